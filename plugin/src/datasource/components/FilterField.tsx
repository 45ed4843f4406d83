/**
 * The filter input: checks the text with the hub as the user types (the error names the column and
 * a caret points at it) and offers the hub's completions for the word being typed.
 */
import { useEffect, useRef, useState, type ChangeEvent, type KeyboardEvent } from 'react';
import { Button, InlineField, Input, Stack } from '@grafana/ui';
import { withColumn } from '../filter.js';
import type { CompletionsResponse, ValidateResponse } from '../types.js';

export interface FilterHelp {
  validateFilter(filter: string): Promise<ValidateResponse>;
  completions(prefix: string): Promise<CompletionsResponse>;
}

interface Props {
  value: string;
  help: FilterHelp;
  onChange: (filter: string) => void;
  onRunQuery: () => void;
  /** Milliseconds of quiet typing before asking the hub. */
  debounceMs?: number;
}

interface Problem {
  message: string;
  position: number;
  expected?: string[];
}

const MAX_SUGGESTIONS = 12;
/** The word being typed: what follows the last space, bracket or parenthesis. */
const PARTIAL_WORD = /[^\s()[\],]*$/;

export function FilterField({ value, help, onChange, onRunQuery, debounceMs = 300 }: Props) {
  const [problem, setProblem] = useState<Problem | undefined>();
  const [checkFailed, setCheckFailed] = useState<string | undefined>();
  const [suggestions, setSuggestions] = useState<Array<{ text: string; doc?: string }>>([]);
  const latest = useRef(value);
  latest.current = value;

  useEffect(() => {
    const text = value;
    const timer = setTimeout(async () => {
      try {
        const [v, c] = await Promise.all([
          text.trim() ? help.validateFilter(text) : Promise.resolve<ValidateResponse>({ valid: true }),
          help.completions(text),
        ]);
        if (latest.current !== text) return; // the user typed on; a newer check is coming
        setCheckFailed(undefined);
        setProblem(v.valid ? undefined : v.error);
        const partial = PARTIAL_WORD.exec(text)?.[0] ?? '';
        const all = [
          ...c.fields.map((f) => ({ text: f.name, doc: `${f.type} — ${f.doc}` })),
          ...c.operators.map((o) => ({ text: o })),
          ...c.values.map((x) => ({ text: x })),
        ];
        setSuggestions(all.filter((s) => s.text !== partial).slice(0, MAX_SUGGESTIONS));
      } catch (e) {
        if (latest.current !== text) return;
        setCheckFailed(`Could not check the filter with the hub: ${e instanceof Error ? e.message : String(e)}`);
      }
    }, debounceMs);
    return () => clearTimeout(timer);
  }, [value, help, debounceMs]);

  const accept = (s: string) => {
    const next = value.replace(PARTIAL_WORD, s) + ' ';
    onChange(next);
  };

  return (
    <Stack direction="column" gap={0.5}>
      <InlineField
        label="Filter"
        labelWidth={14}
        grow
        invalid={problem !== undefined}
        error={problem ? withColumn(problem.message, problem.position) : undefined}
        tooltip='The filter language, e.g. http and status >= 400 and dst.service == "nginx". Enter runs the query.'
      >
        <Input
          id="tapline-filter"
          aria-label="Filter"
          className="tapline-filter"
          placeholder='e.g. dst.service == "nginx" and status >= 400'
          value={value}
          onChange={(e: ChangeEvent<HTMLInputElement>) => onChange(e.currentTarget.value)}
          onBlur={onRunQuery}
          onKeyDown={(e: KeyboardEvent<HTMLInputElement>) => {
            if (e.key === 'Enter') onRunQuery();
          }}
        />
      </InlineField>
      {problem && (
        <pre data-testid="tapline-filter-caret" style={{ margin: 0, fontSize: 12 }}>
          {`${value}\n${' '.repeat(Math.max(0, problem.position - 1))}^ ${problem.expected?.length ? `expected ${problem.expected.join(' or ')}` : ''}`}
        </pre>
      )}
      {checkFailed && <div role="status">{checkFailed}</div>}
      {suggestions.length > 0 && (
        <Stack direction="row" gap={0.5} wrap="wrap" aria-label="Filter completions">
          {suggestions.map((s) => (
            <Button key={s.text} size="sm" variant="secondary" fill="outline" tooltip={s.doc} onClick={() => accept(s.text)}>
              {s.text}
            </Button>
          ))}
        </Stack>
      )}
    </Stack>
  );
}
