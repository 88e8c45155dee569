// Pure helpers of the dashboard: numbers as text, and stats as chart.js datasets.
import type { ChartData } from "chart.js";
import type { Schemas } from "../../api/client";
import { formatDuration } from "../../lib/format";

export type Stats = Schemas["Stats"];
export type JobStats = Schemas["JobStats"];
export type DayStats = Schemas["DayStats"];
export type JobMetric = "success_rate" | "median_duration";

/** A 0..1 rate as a percentage; never rounds a near miss up to 100% or a few down to 0%. */
export function formatPercent(rate: number | null | undefined): string {
  if (rate === null || rate === undefined || Number.isNaN(rate)) return "–";
  const percent = Math.min(100, Math.max(0, rate * 100));
  if ((percent > 99 && percent < 100) || (percent > 0 && percent < 1)) {
    const text = percent.toFixed(1);
    // 99.96 would print as "100.0", 0.04 as "0.0": keep them honest.
    if (text === "100.0") return "99.9%";
    if (text === "0.0") return "0.1%";
    return `${text}%`;
  }
  return `${Math.round(percent)}%`;
}

/** "2024-03-04" (a UTC date) as a short label, "Mar 4". */
export function formatDay(date: string, locale?: string): string {
  const parsed = new Date(`${date}T00:00:00Z`);
  if (Number.isNaN(parsed.getTime())) return date;
  return parsed.toLocaleDateString(locale, { month: "short", day: "numeric", timeZone: "UTC" });
}

/** The colours of the current theme, as the charts need them. */
export interface ChartColors {
  text: string;
  muted: string;
  grid: string;
  success: string;
  failure: string;
  other: string;
  accent: string;
}

// Used when a variable is missing (tests, or a stylesheet not yet loaded); readable on both themes.
export const FALLBACK_COLORS: ChartColors = {
  text: "#57606a",
  muted: "#57606a",
  grid: "rgba(128, 128, 128, 0.3)",
  success: "#2e9e4a",
  failure: "#d94848",
  other: "#8a8f98",
  accent: "#3b72e8",
};

/** Reads the stylesheet's colour variables (styles.css), so charts follow light and dark. */
export function readChartColors(element: Element = document.documentElement): ChartColors {
  const style = getComputedStyle(element);
  const read = (name: string, fallback: string) => style.getPropertyValue(name).trim() || fallback;
  return {
    text: read("--text", FALLBACK_COLORS.text),
    muted: read("--muted", FALLBACK_COLORS.muted),
    grid: read("--border", FALLBACK_COLORS.grid),
    success: read("--success", FALLBACK_COLORS.success),
    failure: read("--failure", FALLBACK_COLORS.failure),
    other: read("--queued", FALLBACK_COLORS.other),
    accent: read("--accent", FALLBACK_COLORS.accent),
  };
}

/** At most this many jobs in the per-job chart (the busiest ones); the table lists them all. */
export const MAX_CHART_JOBS = 20;

/** The jobs worth a bar: those with builds in the window, the busiest first when too many. */
export function chartJobs(jobs: JobStats[], limit = MAX_CHART_JOBS): JobStats[] {
  const withBuilds = jobs.filter((job) => job.builds > 0);
  if (withBuilds.length <= limit) return withBuilds;
  const busiest = new Set(
    [...withBuilds].sort((a, b) => b.builds - a.builds).slice(0, limit).map((job) => job.job_id),
  );
  return withBuilds.filter((job) => busiest.has(job.job_id));
}

/** The value of one job for the per-job chart: a percentage or seconds; null draws no bar. */
export function jobMetricValue(job: JobStats, metric: JobMetric): number | null {
  if (metric === "success_rate") {
    return job.success_rate === null ? null : Math.round(job.success_rate * 1000) / 10;
  }
  return job.median_duration_seconds;
}

export function jobMetricLabel(metric: JobMetric): string {
  return metric === "success_rate" ? "Success rate (%)" : "Median duration";
}

export function formatJobMetric(value: number | null, metric: JobMetric): string {
  if (value === null) return "no finished builds";
  return metric === "success_rate" ? formatPercent(value / 100) : formatDuration(value);
}

/** The jobs the per-job chart draws a bar for: with builds in the window and a value. */
export function chartJobsWithValue(jobs: JobStats[], metric: JobMetric): JobStats[] {
  return chartJobs(jobs.filter((job) => jobMetricValue(job, metric) !== null));
}

export function jobChartData(
  jobs: JobStats[],
  metric: JobMetric,
  colors: ChartColors,
): ChartData<"bar", (number | null)[], string> {
  const shown = chartJobsWithValue(jobs, metric);
  const color = metric === "success_rate" ? colors.success : colors.accent;
  return {
    labels: shown.map((job) => job.job_name),
    datasets: [
      {
        label: jobMetricLabel(metric),
        data: shown.map((job) => jobMetricValue(job, metric)),
        backgroundColor: color,
        borderColor: color,
        borderWidth: 1,
        maxBarThickness: 48,
      },
    ],
  };
}

export function dailyChartData(
  daily: DayStats[],
  colors: ChartColors,
  locale?: string,
): ChartData<"bar", number[], string> {
  const labels = daily.map((day) => formatDay(day.date, locale));
  const series = (label: string, key: "success" | "failure" | "other", color: string) => ({
    label,
    data: daily.map((day) => day[key]),
    backgroundColor: color,
    borderColor: color,
    borderWidth: 1,
    stack: "builds",
    maxBarThickness: 40,
  });
  return {
    labels,
    datasets: [
      series("Succeeded", "success", colors.success),
      series("Failed", "failure", colors.failure),
      series("Other (cancelled, queued, running)", "other", colors.other),
    ],
  };
}

export interface DailyTotals {
  success: number;
  failure: number;
  other: number;
  total: number;
}

export function dailyTotals(daily: DayStats[]): DailyTotals {
  const totals = { success: 0, failure: 0, other: 0, total: 0 };
  for (const day of daily) {
    totals.success += day.success;
    totals.failure += day.failure;
    totals.other += day.other;
  }
  totals.total = totals.success + totals.failure + totals.other;
  return totals;
}

/** The accessible name of the builds-per-day chart: what it shows, in words. */
export function dailyChartLabel(daily: DayStats[], days: number): string {
  const totals = dailyTotals(daily);
  return (
    `Builds per day over the last ${days} days, stacked by result: ` +
    `${totals.total} builds, ${totals.success} succeeded, ${totals.failure} failed, ` +
    `${totals.other} other.`
  );
}

/** The accessible name of the per-job chart; the table below it has every number. */
export function jobChartLabel(jobs: JobStats[], metric: JobMetric, days: number): string {
  const shown = chartJobsWithValue(jobs, metric);
  const what = metric === "success_rate" ? "Success rate" : "Median duration";
  if (shown.length === 0) return `${what} per job over the last ${days} days: no finished builds.`;
  const parts = shown
    .slice(0, 10)
    .map((job) => `${job.job_name} ${formatJobMetric(jobMetricValue(job, metric), metric)}`);
  const more = shown.length > 10 ? `, and ${shown.length - 10} more in the table below` : "";
  return `${what} per job over the last ${days} days: ${parts.join(", ")}${more}.`;
}

/** The window a visitor asked for (?days=30), 7 unless it is one we offer. */
export const WINDOWS = [7, 30] as const;
export type Window = (typeof WINDOWS)[number];

export function parseWindow(value: string | null): Window {
  const days = Number(value);
  return (WINDOWS as readonly number[]).includes(days) ? (days as Window) : 7;
}
