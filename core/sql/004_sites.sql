-- Sites: a place with a grid connection that owns stations (load management balances a
-- site's limit between its sessions; billing assigns tariffs to a site). A group inside a
-- site is a site with a parent. A station belongs to at most one site (stations.site_id).
-- Limits, schedules and the balancer's settings come with the load-management migration.
CREATE TABLE sites (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    parent_id   bigint REFERENCES sites(id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (parent_id IS NULL OR parent_id <> id)
);
CREATE INDEX sites_parent ON sites (parent_id) WHERE parent_id IS NOT NULL;

ALTER TABLE stations ADD COLUMN site_id bigint REFERENCES sites(id) ON DELETE SET NULL;
CREATE INDEX stations_site ON stations (site_id) WHERE site_id IS NOT NULL;

ALTER TABLE tariff_assignments
    ADD CONSTRAINT tariff_assignments_site_fk FOREIGN KEY (site_id) REFERENCES sites(id) ON DELETE CASCADE;
CREATE INDEX tariff_assignments_site ON tariff_assignments (site_id, assigned_at)
    WHERE site_id IS NOT NULL;
