// The server checks the pipeline as it is typed: ~400 ms after the last key, one request per
// text. A newer text makes the older request's answer useless, so it is aborted (TanStack Query
// cancels a query whose key nobody watches any more when its fetch took the signal).
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { api, unwrap, type Schemas } from "../../api/client";

export type PipelineValidation = Schemas["PipelineValidation"];

export const VALIDATE_DELAY_MS = 400;

export function useDebounced<T>(value: T, delayMs: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), delayMs);
    return () => clearTimeout(timer);
  }, [value, delayMs]);
  return settled;
}

export function usePipelineValidation(text: string, enabled: boolean) {
  const settled = useDebounced(text, VALIDATE_DELAY_MS);
  const query = useQuery({
    queryKey: ["pipeline-validation", settled],
    queryFn: async ({ signal }) =>
      unwrap(await api.POST("/api/v1/pipelines/validate", { body: { pipeline: settled }, signal })),
    enabled: enabled && settled.trim() !== "",
    placeholderData: keepPreviousData,
    staleTime: Infinity,
    gcTime: 60_000,
    retry: false,
  });
  return {
    result: query.data,
    error: query.error,
    // Typing not yet sent, or sent and not yet answered.
    checking: enabled && (settled !== text || query.isFetching),
    // The answer on screen is about the text on screen.
    current: settled === text && !query.isPlaceholderData && query.data !== undefined,
  };
}
