-- Every outbox row is inserted, leased and deleted within milliseconds, so the table is mostly dead tuples
-- unless it is vacuumed often. With the default thresholds (20% of the table) a busy outbox of a few hundred
-- live rows grew to 45 MB and claiming 20 rows walked 3,000 buffers (3.5 ms instead of 0.3 ms); see
-- docs/performance.md, section 4. Vacuum it after a fixed number of dead rows, without cost-based pauses.
ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000,
                        autovacuum_vacuum_cost_delay = 0, autovacuum_analyze_scale_factor = 0,
                        autovacuum_analyze_threshold = 5000);
