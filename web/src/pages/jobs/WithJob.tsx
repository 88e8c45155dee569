// The job pages (its page, its edit form) load the job from the URL's id the same way, and say
// the same when there is none.
import type { ReactNode } from "react";
import { Link } from "react-router";
import { ApiError, type Job } from "../../api/client";
import { ErrorMessage, Loading } from "../../components/Feedback";
import { useJob } from "./queries";

export function WithJob({ jobId, children }: { jobId: string; children: (job: Job) => ReactNode }) {
  const job = useJob(jobId);
  if (job.isPending) return <Loading what="Loading the job" />;
  // 422: not even an id (a mistyped URL).
  if (job.error instanceof ApiError && (job.error.status === 404 || job.error.status === 422)) {
    return (
      <section>
        <h1>Job not found</h1>
        <p>
          No job has this id; it may have been deleted. <Link to="/jobs">See all jobs</Link>.
        </p>
      </section>
    );
  }
  if (job.error) return <ErrorMessage error={job.error} />;
  return children(job.data);
}
