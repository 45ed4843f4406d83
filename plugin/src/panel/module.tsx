/** The entry Grafana loads: the stream panel and its options. */
import { PanelPlugin, type SelectableValue } from '@grafana/data';
import { StreamPanel } from './components/StreamPanel.js';
import { COLUMN_LABELS, COLUMNS, DEFAULT_OPTIONS, type ColumnKey, type StreamOptions } from './types.js';

export const plugin = new PanelPlugin<StreamOptions>(StreamPanel).setPanelOptions((b) =>
  b
    .addMultiSelect({
      path: 'columns',
      name: 'Columns',
      defaultValue: DEFAULT_OPTIONS.columns,
      // Grafana types a multi-select's options as selectable values of the whole array; each is one column.
      settings: { options: COLUMNS.map((c) => ({ value: c, label: COLUMN_LABELS[c] })) as unknown as Array<SelectableValue<ColumnKey[]>> },
    })
    .addNumberInput({
      path: 'maxRows',
      name: 'Max rows kept',
      description: 'The newest rows the panel keeps (the query\'s "Rows kept" bounds what arrives).',
      defaultValue: DEFAULT_OPTIONS.maxRows,
      settings: { min: 1, max: 100000, integer: true },
    })
    .addBooleanSwitch({ path: 'newestFirst', name: 'Newest first', defaultValue: DEFAULT_OPTIONS.newestFirst })
    .addNumberInput({ path: 'latencyWarnMs', name: 'Latency warning (ms)', defaultValue: DEFAULT_OPTIONS.latencyWarnMs, settings: { min: 0 } })
    .addNumberInput({ path: 'latencyCritMs', name: 'Latency critical (ms)', defaultValue: DEFAULT_OPTIONS.latencyCritMs, settings: { min: 0 } })
    .addTextInput({
      path: 'filterVariable',
      name: 'Filter variable',
      description: 'Text box variable that "+"/"−" write to; use ${filter:raw} in the query\'s filter.',
      defaultValue: DEFAULT_OPTIONS.filterVariable,
    })
    .addTextInput({
      path: 'entryDashboardUid',
      name: 'Entry dashboard uid',
      description: 'Dashboard showing one entry from its `entry` variable; the detail drawer links to it.',
      defaultValue: DEFAULT_OPTIONS.entryDashboardUid,
    }),
);
