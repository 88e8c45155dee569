// What the job's page hands to a forge or a README: the webhook URL of each forge, the badge's
// address and its Markdown. Pure: tested on its own.
import type { Job } from "../../api/client";
import { FORGES, type ForgeType } from "./jobForm";

/** The receiver a forge's webhook posts to. */
export function webhookUrl(origin: string, forge: ForgeType): string {
  return `${origin}/api/v1/hooks/${forge}`;
}

/** The forges, the job's own (the one it reports statuses to) first. */
export function forgesFor(job: Pick<Job, "forge">): ForgeType[] {
  const all = FORGES.map((forge) => forge.value);
  const own = job.forge?.type;
  return own ? [own, ...all.filter((forge) => forge !== own)] : all;
}

export function badgeUrl(origin: string, jobName: string, branch?: string | null): string {
  const url = `${origin}/api/v1/badges/${encodeURIComponent(jobName)}.svg`;
  return branch ? `${url}?branch=${encodeURIComponent(branch)}` : url;
}

/** A README's badge: the image, linking to the job's page. */
export function badgeMarkdown(origin: string, job: Pick<Job, "id" | "name">): string {
  return `[![${job.name}](${badgeUrl(origin, job.name)})](${origin}/jobs/${job.id})`;
}
