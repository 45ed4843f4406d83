/** The entry Grafana loads: the data source class and its editors. */
import { DataSourcePlugin } from '@grafana/data';
import { DataSource } from './datasource.js';
import { ConfigEditor } from './components/ConfigEditor.js';
import { QueryEditor } from './components/QueryEditor.js';
import type { TaplineOptions, TaplineQuery, TaplineSecureOptions } from './types.js';

export const plugin = new DataSourcePlugin<DataSource, TaplineQuery, TaplineOptions, TaplineSecureOptions>(DataSource)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
