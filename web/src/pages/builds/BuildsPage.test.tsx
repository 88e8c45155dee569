import { filtersFromParams } from "./BuildsPage";

describe("filtersFromParams", () => {
  it("reads the known filters and ignores an unknown status", () => {
    expect(filtersFromParams(new URLSearchParams("job=j&status=failure&branch=main&worker=w"))).toEqual({
      job_id: "j",
      status: "failure",
      branch: "main",
      worker_id: "w",
    });
    expect(filtersFromParams(new URLSearchParams("status=bogus&other=1"))).toEqual({});
  });
});
