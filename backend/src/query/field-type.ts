/** The types a filter field can have (query/fields.ts); its own module so descriptors can name them. */
export type FieldType = 'string' | 'int' | 'status' | 'ip' | 'duration' | 'size' | 'time' | 'bool';
