// Environment variables as name/value rows, added and removed one at a time.
import { useRef } from "react";
import { envRowProblems, newEnvRow, type EnvRow } from "./jobForm";

interface Props {
  rows: EnvRow[];
  onChange: (rows: EnvRow[]) => void;
  /** The fieldset's legend, e.g. "Environment variables". */
  legend: string;
  /** Prefix of the inputs' ids; unique on the page. */
  idPrefix: string;
  hint?: string;
  /** A message about the whole set, e.g. from the server. */
  error?: string;
}

export function EnvRowsEditor({ rows, onChange, legend, idPrefix, hint, error }: Props) {
  const problems = envRowProblems(rows);
  const list = useRef<HTMLUListElement>(null);
  const addButton = useRef<HTMLButtonElement>(null);

  const update = (id: number, change: Partial<EnvRow>) =>
    onChange(rows.map((row) => (row.id === id ? { ...row, ...change } : row)));

  const add = () => {
    const row = newEnvRow();
    onChange([...rows, row]);
    // The new row's name field takes the focus once it is on screen.
    requestAnimationFrame(() => document.getElementById(`${idPrefix}-key-${row.id}`)?.focus());
  };

  const remove = (index: number) => {
    const rest = rows.filter((_, i) => i !== index);
    onChange(rest);
    // Keep the keyboard where it was: on the next row's remove button, or on "Add".
    requestAnimationFrame(() => {
      const buttons = list.current?.querySelectorAll<HTMLButtonElement>("button.env-remove");
      const target = buttons?.[Math.min(index, rest.length - 1)];
      (target ?? addButton.current)?.focus();
    });
  };

  const hintId = hint ? `${idPrefix}-hint` : undefined;
  return (
    <fieldset className="env-rows" aria-describedby={hintId}>
      <legend>{legend}</legend>
      {hint && (
        <p id={hintId} className="muted small env-hint">
          {hint}
        </p>
      )}
      {rows.length === 0 && <p className="muted small">No variables.</p>}
      <ul ref={list} className="env-list">
        {rows.map((row, index) => {
          const problem = problems.get(row.id);
          const keyId = `${idPrefix}-key-${row.id}`;
          const valueId = `${idPrefix}-value-${row.id}`;
          const problemId = `${idPrefix}-problem-${row.id}`;
          const n = index + 1;
          return (
            <li key={row.id} className="env-row">
              <div className="env-cell">
                <label htmlFor={keyId} className="visually-hidden">
                  Name {n}
                </label>
                <input
                  id={keyId}
                  className="mono"
                  value={row.key}
                  placeholder="NAME"
                  autoComplete="off"
                  spellCheck={false}
                  aria-invalid={problem ? true : undefined}
                  aria-describedby={problem ? problemId : undefined}
                  onChange={(e) => update(row.id, { key: e.target.value })}
                />
              </div>
              <div className="env-cell">
                <label htmlFor={valueId} className="visually-hidden">
                  Value {n}
                </label>
                <input
                  id={valueId}
                  className="mono"
                  value={row.value}
                  placeholder="value"
                  autoComplete="off"
                  spellCheck={false}
                  onChange={(e) => update(row.id, { value: e.target.value })}
                />
              </div>
              <button
                type="button"
                className="secondary env-remove"
                aria-label={`Remove variable ${row.key.trim() || n}`}
                title="Remove"
                onClick={() => remove(index)}
              >
                <span aria-hidden="true">✕</span>
              </button>
              {problem && (
                <p id={problemId} className="error small env-problem">
                  {problem}
                </p>
              )}
            </li>
          );
        })}
      </ul>
      <button ref={addButton} type="button" className="secondary" onClick={add}>
        + Add variable
      </button>
      {error && (
        <p className="error small" role="alert">
          {error}
        </p>
      )}
    </fieldset>
  );
}
