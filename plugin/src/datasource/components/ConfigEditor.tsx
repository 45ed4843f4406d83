/**
 * Data source settings: where the hub is (as Grafana's server reaches it), its token (kept in
 * secureJsonData, so only Grafana's proxy ever sees it), and the query defaults.
 */
import type { ChangeEvent } from 'react';
import type { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { InlineField, Input, RadioButtonGroup, SecretInput, Stack } from '@grafana/ui';
import {
  DEFAULT_CAPACITY,
  DEFAULT_LIMIT,
  MAX_CAPACITY,
  MAX_LIMIT,
  type TaplineOptions,
  type TaplineSecureOptions,
  type TimeField,
} from '../types.js';

type Props = DataSourcePluginOptionsEditorProps<TaplineOptions, TaplineSecureOptions>;

const LABEL_WIDTH = 24;
const TIME_FIELDS = [
  { label: 'Request start', value: 'start' as TimeField },
  { label: 'Response end', value: 'end' as TimeField },
];

/** Why a hub URL cannot work, or undefined when it can. */
export function hubUrlProblem(url: string | undefined): string | undefined {
  if (!url) return 'Required: the URL where Grafana’s server reaches the hub, e.g. http://tapline-hub:8787';
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `Not a URL: ${url}`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `Use http:// or https:// (got ${u.protocol})`;
  if (u.pathname !== '/' && u.pathname !== '') return 'Give the hub’s base URL, without a path (the plugin adds /api/v1/…)';
  return undefined;
}

/** A whole number in [lo, hi], or undefined (empty field → the default applies). */
function parseCount(text: string, lo: number, hi: number): number | undefined | 'invalid' {
  if (text.trim() === '') return undefined;
  const n = Number(text);
  return Number.isInteger(n) && n >= lo && n <= hi ? n : 'invalid';
}

export function ConfigEditor({ options, onOptionsChange }: Props) {
  const { jsonData, secureJsonFields } = options;
  const secure = options.secureJsonData ?? {};
  const setJson = (patch: Partial<TaplineOptions>) => onOptionsChange({ ...options, jsonData: { ...jsonData, ...patch } });
  const urlProblem = hubUrlProblem(jsonData.hubUrl);

  const countField = (key: 'defaultLimit' | 'defaultCapacity', max: number) => ({
    value: jsonData[key] === undefined ? '' : String(jsonData[key]),
    onChange: (e: ChangeEvent<HTMLInputElement>) => {
      const v = parseCount(e.currentTarget.value, 1, max);
      setJson({ [key]: v === 'invalid' ? jsonData[key] : v });
    },
  });

  return (
    <Stack direction="column" gap={1}>
      <InlineField
        label="Hub URL"
        labelWidth={LABEL_WIDTH}
        tooltip="Where Grafana's server (not your browser) reaches the Tapline hub. Requests go through Grafana's data source proxy."
        invalid={jsonData.hubUrl !== undefined && urlProblem !== undefined}
        error={urlProblem}
        required
      >
        <Input
          id="tapline-hub-url"
          width={48}
          placeholder="http://tapline-hub:8787"
          value={jsonData.hubUrl ?? ''}
          onChange={(e: ChangeEvent<HTMLInputElement>) => setJson({ hubUrl: e.currentTarget.value.trim() })}
        />
      </InlineField>
      <InlineField
        label="Token"
        labelWidth={LABEL_WIDTH}
        tooltip="The hub's bearer token (required when the hub listens beyond loopback). Stored encrypted; Grafana's proxy adds it to each request."
      >
        <SecretInput
          id="tapline-token"
          width={48}
          placeholder="hub token"
          isConfigured={Boolean(secureJsonFields?.token)}
          value={secure.token ?? ''}
          onChange={(e: ChangeEvent<HTMLInputElement>) =>
            onOptionsChange({ ...options, secureJsonData: { ...secure, token: e.currentTarget.value } })
          }
          onReset={() =>
            onOptionsChange({
              ...options,
              secureJsonFields: { ...secureJsonFields, token: false },
              secureJsonData: { ...secure, token: '' },
            })
          }
        />
      </InlineField>
      <InlineField label="Time column" labelWidth={LABEL_WIDTH} tooltip="Which time the entries table and stream show.">
        <RadioButtonGroup
          options={TIME_FIELDS}
          value={jsonData.timeField ?? 'start'}
          onChange={(v: TimeField) => setJson({ timeField: v })}
        />
      </InlineField>
      <InlineField
        label="Default row limit"
        labelWidth={LABEL_WIDTH}
        tooltip={`Entries per table query when the query sets none (1–${MAX_LIMIT}).`}
      >
        <Input id="tapline-default-limit" type="number" width={16} placeholder={String(DEFAULT_LIMIT)} {...countField('defaultLimit', MAX_LIMIT)} />
      </InlineField>
      <InlineField
        label="Live rows kept"
        labelWidth={LABEL_WIDTH}
        tooltip={`Rows a live stream keeps before dropping the oldest (1–${MAX_CAPACITY}).`}
      >
        <Input
          id="tapline-default-capacity"
          type="number"
          width={16}
          placeholder={String(DEFAULT_CAPACITY)}
          {...countField('defaultCapacity', MAX_CAPACITY)}
        />
      </InlineField>
      <InlineField
        label="Entry dashboard uid"
        labelWidth={LABEL_WIDTH}
        tooltip="Optional: a dashboard showing one entry from its `entry` variable. Table rows link to it (and always to Explore)."
      >
        <Input
          id="tapline-entry-dashboard"
          width={32}
          placeholder="tapline-entry"
          value={jsonData.entryDashboardUid ?? ''}
          onChange={(e: ChangeEvent<HTMLInputElement>) => setJson({ entryDashboardUid: e.currentTarget.value.trim() || undefined })}
        />
      </InlineField>
    </Stack>
  );
}
