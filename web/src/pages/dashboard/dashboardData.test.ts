import { describe, expect, it } from "vitest";
import {
  FALLBACK_COLORS,
  MAX_CHART_JOBS,
  chartJobs,
  dailyChartData,
  dailyChartLabel,
  dailyTotals,
  formatDay,
  formatPercent,
  jobChartData,
  jobChartLabel,
  parseWindow,
  readChartColors,
  type DayStats,
  type JobStats,
} from "./dashboardData";

function job(name: string, fields: Partial<JobStats> = {}): JobStats {
  return {
    job_id: `id-${name}`,
    job_name: name,
    builds: 4,
    succeeded: 3,
    failed: 1,
    success_rate: 0.75,
    median_duration_seconds: 12,
    last_status: "success",
    last_build_id: `build-${name}`,
    ...fields,
  };
}

const DAILY: DayStats[] = [
  { date: "2024-03-04", success: 2, failure: 1, other: 0 },
  { date: "2024-03-05", success: 5, failure: 0, other: 2 },
];

describe("formatPercent", () => {
  it("rounds to whole percents", () => {
    expect(formatPercent(0.75)).toBe("75%");
    expect(formatPercent(1)).toBe("100%");
    expect(formatPercent(0)).toBe("0%");
    expect(formatPercent(2 / 3)).toBe("67%");
  });
  it("never rounds a near miss to 100% or a few to 0%", () => {
    expect(formatPercent(0.996)).toBe("99.6%");
    expect(formatPercent(0.99999)).toBe("99.9%");
    expect(formatPercent(0.004)).toBe("0.4%");
    expect(formatPercent(0.0000001)).toBe("0.1%");
  });
  it("shows a dash with no rate", () => {
    expect(formatPercent(null)).toBe("–");
    expect(formatPercent(undefined)).toBe("–");
  });
});

describe("formatDay", () => {
  it("reads the date as UTC", () => {
    expect(formatDay("2024-03-04", "en-US")).toBe("Mar 4");
    expect(formatDay("not a date")).toBe("not a date");
  });
});

describe("parseWindow", () => {
  it("accepts 7 and 30, else 7", () => {
    expect(parseWindow("30")).toBe(30);
    expect(parseWindow("7")).toBe(7);
    expect(parseWindow(null)).toBe(7);
    expect(parseWindow("90")).toBe(7);
  });
});

describe("chartJobs", () => {
  it("leaves out jobs without builds in the window", () => {
    const shown = chartJobs([job("a"), job("b", { builds: 0 }), job("c")]);
    expect(shown.map((j) => j.job_name)).toEqual(["a", "c"]);
  });
  it("keeps the busiest jobs, in their order, when there are too many", () => {
    const many = Array.from({ length: MAX_CHART_JOBS + 5 }, (_, i) => job(`j${i}`, { builds: i + 1 }));
    const shown = chartJobs(many);
    expect(shown).toHaveLength(MAX_CHART_JOBS);
    expect(shown[0]?.job_name).toBe("j5");
    expect(shown.at(-1)?.job_name).toBe(`j${MAX_CHART_JOBS + 4}`);
  });
});

describe("jobChartData", () => {
  const jobs = [job("api"), job("web", { success_rate: null, median_duration_seconds: null })];
  it("gives success rates as percentages, leaving out jobs with none", () => {
    const data = jobChartData(jobs, "success_rate", FALLBACK_COLORS);
    expect(data.labels).toEqual(["api"]);
    expect(data.datasets[0]?.data).toEqual([75]);
    expect(data.datasets[0]?.backgroundColor).toBe(FALLBACK_COLORS.success);
  });
  it("gives median durations in seconds", () => {
    const data = jobChartData([...jobs, job("slow", { median_duration_seconds: 300 })], "median_duration", FALLBACK_COLORS);
    expect(data.labels).toEqual(["api", "slow"]);
    expect(data.datasets[0]?.data).toEqual([12, 300]);
    expect(data.datasets[0]?.backgroundColor).toBe(FALLBACK_COLORS.accent);
  });
  it("names the chart with its numbers", () => {
    expect(jobChartLabel(jobs, "success_rate", 7)).toBe(
      "Success rate per job over the last 7 days: api 75%.",
    );
    expect(jobChartLabel([], "median_duration", 30)).toBe("Median duration per job over the last 30 days: no finished builds.");
  });
});

describe("dailyChartData", () => {
  it("stacks success, failure and other per day", () => {
    const data = dailyChartData(DAILY, FALLBACK_COLORS, "en-US");
    expect(data.labels).toEqual(["Mar 4", "Mar 5"]);
    expect(data.datasets.map((d) => d.data)).toEqual([
      [2, 5],
      [1, 0],
      [0, 2],
    ]);
    expect(new Set(data.datasets.map((d) => d.stack))).toEqual(new Set(["builds"]));
    expect(data.datasets.map((d) => d.backgroundColor)).toEqual([
      FALLBACK_COLORS.success,
      FALLBACK_COLORS.failure,
      FALLBACK_COLORS.other,
    ]);
  });
  it("sums the window for the accessible name", () => {
    expect(dailyTotals(DAILY)).toEqual({ success: 7, failure: 1, other: 2, total: 10 });
    expect(dailyChartLabel(DAILY, 7)).toBe(
      "Builds per day over the last 7 days, stacked by result: 10 builds, 7 succeeded, 1 failed, 2 other.",
    );
  });
});

describe("readChartColors", () => {
  it("reads the theme's CSS variables, with fallbacks", () => {
    const element = document.createElement("div");
    element.style.setProperty("--success", "#00ff00");
    document.body.append(element);
    const colors = readChartColors(element);
    expect(colors.success).toBe("#00ff00");
    expect(colors.failure).toBe(FALLBACK_COLORS.failure);
    element.remove();
  });
});
