/** The query editor: the query type, the filter (checked by the hub), and each type's options. */
import type { ChangeEvent } from 'react';
import type { QueryEditorProps } from '@grafana/data';
import { InlineField, InlineFieldRow, Input, RadioButtonGroup, Stack } from '@grafana/ui';
import type { DataSource } from '../datasource.js';
import { FilterField } from './FilterField.js';
import {
  DEFAULT_QUANTILES,
  MAX_CAPACITY,
  MAX_LIMIT,
  MAX_TOP_ROWS,
  MAX_TOP_SERIES,
  STATS_GROUP_BY,
  type QueryType,
  type SecondaryStat,
  type StatsGroupBy,
  type StatsMetric,
  type TaplineOptions,
  type TaplineQuery,
  type TopSort,
} from '../types.js';

type Props = QueryEditorProps<DataSource, TaplineQuery, TaplineOptions>;

const TYPE_OPTIONS: Array<{ label: string; value: QueryType; description: string }> = [
  { label: 'Entries', value: 'entries', description: 'A table of requests, newest first' },
  { label: 'Live stream', value: 'stream', description: 'Requests as they happen' },
  { label: 'Stats', value: 'stats', description: 'Time series of requests, errors or latency' },
  { label: 'Service map', value: 'serviceMap', description: 'Services and their connections (node graph)' },
  { label: 'Catalog', value: 'catalog', description: 'Per service: requests, failures, latency' },
  { label: 'Top values', value: 'top', description: "A field's values with the most requests, failures or latency" },
  { label: 'Entry', value: 'entry', description: 'One request and response in full' },
];
const METRICS: Array<{ label: string; value: StatsMetric }> = [
  { label: 'Requests', value: 'requests' },
  { label: 'Errors', value: 'errors' },
  { label: 'Latency', value: 'latency' },
];
/** The built-in groupings, then "Field": any field with one value an entry, typed in. */
const FIELD_GROUP = 'field';
const GROUP_BY: Array<{ label: string; value: string }> = [
  { label: 'Status class', value: 'statusClass' },
  { label: 'Outcome', value: 'outcome' },
  { label: 'Protocol', value: 'protocol' },
  { label: 'Service', value: 'service' },
  { label: 'None', value: 'none' },
  { label: 'Field', value: FIELD_GROUP },
];
const isBuiltinGroup = (g: string) => (STATS_GROUP_BY as readonly string[]).includes(g);
const SORTS: Array<{ label: string; value: TopSort }> = [
  { label: 'Requests', value: 'requests' },
  { label: 'Failures', value: 'failed' },
  { label: 'p95 latency', value: 'p95' },
  { label: 'Mean latency', value: 'avg' },
];
const SECONDARY: Array<{ label: string; value: SecondaryStat }> = [
  { label: 'p95 latency', value: 'p95' },
  { label: 'Error rate', value: 'errorRate' },
];

/** "0.5, 0.95" → [0.5, 0.95]; undefined when any part is not a number in (0, 1). */
export function parseQuantiles(text: string): number[] | undefined {
  const parts = text.split(',').map((s) => s.trim()).filter(Boolean);
  const qs = parts.map(Number);
  return qs.length && qs.every((q) => Number.isFinite(q) && q > 0 && q < 1) ? qs : undefined;
}

function FieldNameInput(props: { id: string; value: string; onChange: (name: string) => void; onRunQuery: () => void }) {
  return (
    <InlineField label="Field" labelWidth={10} tooltip="A filter-language field with one value an entry: operation, target, dst.service, dns.rcode, sql.shape…">
      <Input
        id={props.id}
        aria-label="Field"
        width={24}
        placeholder="dns.qname"
        value={props.value}
        onChange={(e: ChangeEvent<HTMLInputElement>) => props.onChange(e.currentTarget.value.trim())}
        onBlur={props.onRunQuery}
      />
    </InlineField>
  );
}

function CountInput(props: { id: string; label: string; tooltip: string; value?: number; max: number; onChange: (v?: number) => void }) {
  return (
    <InlineField label={props.label} labelWidth={14} tooltip={props.tooltip}>
      <Input
        id={props.id}
        aria-label={props.label}
        type="number"
        width={14}
        min={1}
        max={props.max}
        value={props.value ?? ''}
        onChange={(e: ChangeEvent<HTMLInputElement>) => {
          const t = e.currentTarget.value;
          const n = Number(t);
          if (t === '') props.onChange(undefined);
          else if (Number.isInteger(n) && n >= 1 && n <= props.max) props.onChange(n);
        }}
      />
    </InlineField>
  );
}

export function QueryEditor({ query, onChange, onRunQuery, datasource }: Props) {
  const type = query.queryType ?? 'entries';
  const set = (patch: Partial<TaplineQuery>) => onChange({ ...query, ...patch });
  const setAndRun = (patch: Partial<TaplineQuery>) => {
    set(patch);
    onRunQuery();
  };

  return (
    <Stack direction="column" gap={1}>
      <InlineField label="Query type" labelWidth={14}>
        <RadioButtonGroup options={TYPE_OPTIONS} value={type} onChange={(v: QueryType) => setAndRun({ queryType: v })} />
      </InlineField>
      {type !== 'entry' && (
        <FilterField value={query.filter ?? ''} help={datasource} onChange={(filter) => set({ filter })} onRunQuery={onRunQuery} />
      )}
      {type === 'entries' && (
        <CountInput
          id="tapline-limit"
          label="Limit"
          tooltip={`Newest entries to fetch (1–${MAX_LIMIT}); empty uses the data source's default.`}
          value={query.limit}
          max={MAX_LIMIT}
          onChange={(limit) => set({ limit })}
        />
      )}
      {type === 'stream' && (
        <CountInput
          id="tapline-capacity"
          label="Rows kept"
          tooltip={`The stream keeps this many rows and drops the oldest (1–${MAX_CAPACITY}).`}
          value={query.capacity}
          max={MAX_CAPACITY}
          onChange={(capacity) => set({ capacity })}
        />
      )}
      {type === 'stats' && (
        <InlineFieldRow>
          <InlineField label="Metric" labelWidth={14}>
            <RadioButtonGroup options={METRICS} value={query.metric ?? 'requests'} onChange={(metric: StatsMetric) => setAndRun({ metric })} />
          </InlineField>
          <InlineField label="Group by" labelWidth={10}>
            <RadioButtonGroup
              options={GROUP_BY}
              value={isBuiltinGroup(query.groupBy ?? 'statusClass') ? query.groupBy ?? 'statusClass' : FIELD_GROUP}
              onChange={(g: string) => (g === FIELD_GROUP ? set({ groupBy: '' }) : setAndRun({ groupBy: g as StatsGroupBy, top: undefined }))}
            />
          </InlineField>
          {!isBuiltinGroup(query.groupBy ?? 'statusClass') && (
            <>
              <FieldNameInput id="tapline-group-field" value={query.groupBy ?? ''} onChange={(groupBy) => set({ groupBy })} onRunQuery={onRunQuery} />
              <CountInput
                id="tapline-top"
                label="Top"
                tooltip={`Keep the N biggest series (1–${MAX_TOP_SERIES}), the rest summed as "other"; empty keeps all.`}
                value={query.top}
                max={MAX_TOP_SERIES}
                onChange={(top) => set({ top })}
              />
            </>
          )}
          {query.metric === 'latency' && <QuantilesInput value={query.quantiles} onChange={(quantiles) => setAndRun({ quantiles })} />}
        </InlineFieldRow>
      )}
      {type === 'top' && (
        <InlineFieldRow>
          <FieldNameInput id="tapline-top-field" value={query.by ?? ''} onChange={(by) => set({ by })} onRunQuery={onRunQuery} />
          <InlineField label="Order by" labelWidth={10}>
            <RadioButtonGroup options={SORTS} value={query.sort ?? 'requests'} onChange={(sort: TopSort) => setAndRun({ sort })} />
          </InlineField>
          <CountInput
            id="tapline-top-limit"
            label="Rows"
            tooltip={`Values to list (1–${MAX_TOP_ROWS}); empty lists 20.`}
            value={query.limit}
            max={MAX_TOP_ROWS}
            onChange={(limit) => set({ limit })}
          />
        </InlineFieldRow>
      )}
      {type === 'serviceMap' && (
        <InlineField label="Second stat" labelWidth={14} tooltip="The second number inside each node and on each edge.">
          <RadioButtonGroup
            options={SECONDARY}
            value={query.secondaryStat ?? 'p95'}
            onChange={(secondaryStat: SecondaryStat) => setAndRun({ secondaryStat })}
          />
        </InlineField>
      )}
      {type === 'entry' && (
        <InlineField label="Entry id" labelWidth={14} tooltip="The entry's id, or a variable such as $entry.">
          <Input
            id="tapline-entry-id"
            aria-label="Entry id"
            width={48}
            value={query.entryId ?? ''}
            onChange={(e: ChangeEvent<HTMLInputElement>) => set({ entryId: e.currentTarget.value.trim() })}
            onBlur={onRunQuery}
          />
        </InlineField>
      )}
    </Stack>
  );
}

function QuantilesInput({ value, onChange }: { value?: number[]; onChange: (q: number[]) => void }) {
  const text = (value ?? DEFAULT_QUANTILES).join(', ');
  return (
    <InlineField label="Quantiles" labelWidth={12} tooltip="Comma-separated, each between 0 and 1, e.g. 0.5, 0.95, 0.99.">
      <Input
        id="tapline-quantiles"
        aria-label="Quantiles"
        width={20}
        defaultValue={text}
        onBlur={(e: ChangeEvent<HTMLInputElement>) => {
          const qs = parseQuantiles(e.currentTarget.value);
          if (qs) onChange(qs);
        }}
      />
    </InlineField>
  );
}
