#!/bin/sh
# Temporal's schema on PostgreSQL, with the admin-tools image (temporal-sql-tool), as Temporal's own compose
# examples do since the auto-setup image was deprecated (temporalio/samples-server, compose/scripts/
# setup-postgres.sh). Safe on every deploy: `create` fails harmlessly on an existing database,
# `setup-schema -v 0.0` leaves a stamped schema alone, `update-schema` applies only newer versions.
set -eu
: "${POSTGRES_SEEDS:?POSTGRES_SEEDS is required}"
: "${POSTGRES_USER:?POSTGRES_USER is required}"
: "${SQL_PASSWORD:?SQL_PASSWORD is required}"

tool() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -u "$POSTGRES_USER" -p "${DB_PORT:-5432}" "$@"
}

for database in temporal temporal_visibility; do
  tool --db "$database" create 2>/dev/null || echo "database $database exists"
done
tool --db temporal setup-schema -v 0.0
tool --db temporal update-schema -d /etc/temporal/schema/postgresql/v12/temporal/versioned
tool --db temporal_visibility setup-schema -v 0.0
tool --db temporal_visibility update-schema -d /etc/temporal/schema/postgresql/v12/visibility/versioned
echo "Temporal schema is up to date"
