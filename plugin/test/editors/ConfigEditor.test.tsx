/** The settings page: hub URL (checked), secret token (never in jsonData), defaults. */
import { useState } from 'react';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type { DataSourceSettings } from '@grafana/data';
import { ConfigEditor, hubUrlProblem } from '../../src/datasource/components/ConfigEditor';
import type { TaplineOptions, TaplineSecureOptions } from '../../src/datasource/types';

type Settings = DataSourceSettings<TaplineOptions, TaplineSecureOptions>;

function settings(patch: Partial<Settings> = {}): Settings {
  return {
    id: 1, uid: 'tapline', orgId: 1, name: 'Tapline', typeLogoUrl: '', type: 'tapline-traffic-datasource', typeName: 'Tapline',
    access: 'proxy', url: '', user: '', database: '', basicAuth: false, basicAuthUser: '', isDefault: false,
    jsonData: {}, secureJsonFields: {}, readOnly: false, withCredentials: false,
    ...patch,
  } as Settings;
}

/** Holds the settings like Grafana's page does, and records every change. */
function Harness({ initial, changes }: { initial: Settings; changes: Settings[] }) {
  const [options, setOptions] = useState(initial);
  return (
    <ConfigEditor
      options={options}
      onOptionsChange={(o) => {
        changes.push(o);
        setOptions(o);
      }}
    />
  );
}

test('typing the hub URL stores it in jsonData; a bad one says why', async () => {
  const changes: Settings[] = [];
  render(<Harness initial={settings()} changes={changes} />);
  const url = screen.getByPlaceholderText('http://tapline-hub:8787');
  await userEvent.type(url, 'ftp://hub');
  expect(await screen.findByText('Use http:// or https:// (got ftp:)')).toBeInTheDocument();
  await userEvent.clear(url);
  await userEvent.type(url, 'http://tapline-hub:8787');
  expect(changes.at(-1)?.jsonData.hubUrl).toBe('http://tapline-hub:8787');
  expect(screen.queryByText(/Use http/)).not.toBeInTheDocument();
});

test('hubUrlProblem', () => {
  expect(hubUrlProblem(undefined)).toMatch(/^Required/);
  expect(hubUrlProblem('nope')).toBe('Not a URL: nope');
  expect(hubUrlProblem('http://hub:8787/api/v1')).toMatch(/without a path/);
  expect(hubUrlProblem('https://hub.example:8787')).toBeUndefined();
});

test('the token goes to secureJsonData only', async () => {
  const changes: Settings[] = [];
  render(<Harness initial={settings({ jsonData: { hubUrl: 'http://h:1' } })} changes={changes} />);
  await userEvent.type(screen.getByPlaceholderText('hub token'), 'abc');
  const last = changes.at(-1)!;
  expect(last.secureJsonData?.token).toBe('abc');
  expect(JSON.stringify(last.jsonData)).not.toContain('abc');
});

test('a configured token shows as configured and can be reset', async () => {
  const changes: Settings[] = [];
  render(<Harness initial={settings({ secureJsonFields: { token: true } })} changes={changes} />);
  expect(screen.getByDisplayValue('configured')).toBeDisabled();
  await userEvent.click(screen.getByRole('button', { name: 'Reset' }));
  expect(changes.at(-1)?.secureJsonFields.token).toBe(false);
  expect(changes.at(-1)?.secureJsonData?.token).toBe('');
  expect(screen.getByPlaceholderText('hub token')).toBeEnabled();
});

test('defaults: time column, row limit (bounded), live rows, entry dashboard', async () => {
  const changes: Settings[] = [];
  render(<Harness initial={settings()} changes={changes} />);
  await userEvent.click(screen.getByLabelText('Response end'));
  expect(changes.at(-1)?.jsonData.timeField).toBe('end');
  const limit = screen.getByPlaceholderText('100');
  await userEvent.type(limit, '500');
  expect(changes.at(-1)?.jsonData.defaultLimit).toBe(500);
  // 5000 is taken; 50000 is over the hub's 10000 and is not.
  await userEvent.type(limit, '00');
  expect(changes.map((c) => c.jsonData.defaultLimit).slice(-2)).toEqual([5000, 5000]);
  await userEvent.type(screen.getByPlaceholderText('1000'), '2000');
  expect(changes.at(-1)?.jsonData.defaultCapacity).toBe(2000);
  await userEvent.type(screen.getByPlaceholderText('tapline-entry'), 'tapline-request');
  expect(changes.at(-1)?.jsonData.entryDashboardUid).toBe('tapline-request');
});
