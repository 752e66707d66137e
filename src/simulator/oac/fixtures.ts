// Small read-only OAC lists (catalog, connections, datasets, data flows) served as fixed JSON.

const OWNER = 'analyst@example.com'
const CREATED = '2025-11-03T09:15:00.000Z'
const MODIFIED = '2025-12-18T16:42:00.000Z'

function catalogItem(type: string, folder: string, name: string) {
  const path = `/@Catalog/shared/${folder}/${name}`
  return {
    type,
    id: Buffer.from(`'${path}'`).toString('base64url'),
    name,
    namekey: name,
    description: '',
    owner: OWNER,
    createdBy: OWNER,
    lastModifiedBy: OWNER,
    dateCreated: CREATED,
    dateModified: MODIFIED,
    parentName: folder,
    parentURL: `/@Catalog/shared/${folder}`,
  }
}

export const CATALOG = [
  catalogItem('workbooks', 'Sales', 'Quarterly Revenue'),
  catalogItem('workbooks', 'Sales', 'Pipeline by Region'),
  catalogItem('workbooks', 'Finance', 'Budget vs Actual'),
  catalogItem('folders', 'Sales', 'Archive'),
  catalogItem('datasets', 'Sales', 'Orders 2025'),
]

export const CONNECTIONS = [
  {
    id: Buffer.from(`'${OWNER}'.'ADW Sales'`).toString('base64url'),
    name: 'ADW Sales',
    type: 'oracle-autonomous-data-warehouse',
    description: 'Sales data warehouse',
    owner: OWNER,
    dateCreated: CREATED,
  },
  {
    id: Buffer.from(`'${OWNER}'.'Postgres Ops'`).toString('base64url'),
    name: 'Postgres Ops',
    type: 'postgresql-database',
    description: 'Operations database',
    owner: OWNER,
    dateCreated: CREATED,
  },
]

export const DATASETS = [
  {
    id: 'orders_2025',
    name: 'Orders 2025',
    owner: OWNER,
    sizeBytes: 184320,
    dateModified: MODIFIED,
  },
  { id: 'customers', name: 'Customers', owner: OWNER, sizeBytes: 40960, dateModified: MODIFIED },
  { id: 'fx_rates', name: 'FX Rates', owner: OWNER, sizeBytes: 2048, dateModified: MODIFIED },
]

export const DATAFLOWS = [
  { id: 'df_orders_clean', name: 'Clean Orders', owner: OWNER, lastRun: MODIFIED, status: 'OK' },
  { id: 'df_fx_refresh', name: 'Refresh FX', owner: OWNER, lastRun: MODIFIED, status: 'OK' },
]
