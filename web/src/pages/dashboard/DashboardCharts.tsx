// The dashboard's two charts. Only the chart.js parts they use are registered (tree shaking);
// react-chartjs-2's <Bar> registers the bar controller itself.
import {
  BarElement,
  CategoryScale,
  Chart as ChartJS,
  Legend,
  LinearScale,
  Tooltip,
  type ChartOptions,
} from "chart.js";
import { useMemo, useSyncExternalStore } from "react";
import { Bar } from "react-chartjs-2";
import { formatDuration } from "../../lib/format";
import {
  chartJobsWithValue,
  dailyChartData,
  dailyChartLabel,
  dailyTotals,
  formatJobMetric,
  jobChartData,
  jobChartLabel,
  readChartColors,
  type ChartColors,
  type DayStats,
  type JobMetric,
  type JobStats,
} from "./dashboardData";

ChartJS.register(BarElement, CategoryScale, LinearScale, Tooltip, Legend);

const DARK = "(prefers-color-scheme: dark)";
const REDUCED_MOTION = "(prefers-reduced-motion: reduce)";

function subscribeMedia(query: string) {
  return (onChange: () => void) => {
    const list = window.matchMedia?.(query);
    list?.addEventListener("change", onChange);
    return () => list?.removeEventListener("change", onChange);
  };
}

function useMedia(query: string): boolean {
  return useSyncExternalStore(
    subscribeMedia(query),
    () => window.matchMedia?.(query).matches ?? false,
    () => false,
  );
}

/** The theme's colours, read from the CSS variables; read again when the system theme flips. */
function useChartColors(): { colors: ChartColors; animate: boolean } {
  const dark = useMedia(DARK);
  const reducedMotion = useMedia(REDUCED_MOTION);
  // `dark` is only a dependency: the CSS variables it switches are what is read.
  const colors = useMemo(() => readChartColors(), [dark]);
  return { colors, animate: !reducedMotion };
}

function baseOptions(colors: ChartColors, animate: boolean): ChartOptions<"bar"> {
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: animate ? undefined : false,
    color: colors.text,
    plugins: {
      legend: { labels: { color: colors.text, boxWidth: 14 } },
    },
    scales: {
      x: {
        ticks: { color: colors.muted, autoSkip: true, maxRotation: 45 },
        grid: { display: false },
        border: { color: colors.grid },
      },
      y: {
        beginAtZero: true,
        ticks: { color: colors.muted },
        grid: { color: colors.grid },
        border: { color: colors.grid },
      },
    },
  };
}

export function DailyBuildsChart({ daily, days }: { daily: DayStats[]; days: number }) {
  const { colors, animate } = useChartColors();
  const data = useMemo(() => dailyChartData(daily, colors), [daily, colors]);
  const options = useMemo<ChartOptions<"bar">>(() => {
    const base = baseOptions(colors, animate);
    return {
      ...base,
      plugins: { ...base.plugins, tooltip: { mode: "index", intersect: false } },
      scales: {
        x: { ...base.scales?.x, stacked: true, ticks: { color: colors.muted, autoSkip: true, maxRotation: 0 } },
        y: { ...base.scales?.y, stacked: true, ticks: { color: colors.muted, precision: 0 } },
      },
    };
  }, [colors, animate]);
  const label = dailyChartLabel(daily, days);
  if (dailyTotals(daily).total === 0) return <p className="muted">No builds in the last {days} days.</p>;
  return (
    <div className="dash-chart">
      <Bar data={data} options={options} role="img" aria-label={label} fallbackContent={<p>{label}</p>} />
    </div>
  );
}

export function JobsChart({ jobs, metric, days }: { jobs: JobStats[]; metric: JobMetric; days: number }) {
  const { colors, animate } = useChartColors();
  const data = useMemo(() => jobChartData(jobs, metric, colors), [jobs, metric, colors]);
  const options = useMemo<ChartOptions<"bar">>(() => {
    const base = baseOptions(colors, animate);
    const y =
      metric === "success_rate"
        ? { ...base.scales?.y, max: 100, ticks: { color: colors.muted, callback: (v: string | number) => `${v}%` } }
        : {
            ...base.scales?.y,
            ticks: { color: colors.muted, callback: (v: string | number) => (Number(v) === 0 ? "0" : formatDuration(Number(v))) },
          };
    return {
      ...base,
      plugins: {
        ...base.plugins,
        legend: { display: false },
        tooltip: {
          callbacks: {
            label: (item) => formatJobMetric(item.raw as number | null, metric),
          },
        },
      },
      scales: { x: base.scales?.x, y },
    };
  }, [colors, animate, metric]);
  const label = jobChartLabel(jobs, metric, days);
  if (chartJobsWithValue(jobs, metric).length === 0) {
    return <p className="muted">No finished builds in the last {days} days.</p>;
  }
  return (
    <div className="dash-chart">
      <Bar data={data} options={options} role="img" aria-label={label} fallbackContent={<p>{label}</p>} />
    </div>
  );
}
