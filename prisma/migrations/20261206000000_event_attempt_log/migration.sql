-- A delivery's attempts live in its row (issue 15, cost): the completion statement appends to `attempt_log` (the
-- last 20 kept, oldest first; `attempts` counts every one) instead of inserting an `event_attempts` row (a heap
-- row, two index entries and a foreign-key lock per attempt). Existing attempts move into the log.

ALTER TABLE "event_deliveries" ADD COLUMN "attempt_log" JSONB NOT NULL DEFAULT '[]';

UPDATE "event_deliveries" d SET "attempt_log" = a.log
FROM (
    SELECT x.delivery_id,
        jsonb_agg(jsonb_build_object('at', to_char(x.at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'status_code', x.status_code,
            'latency_ms', x.latency_ms, 'error', x.error) ORDER BY x.at, x.id) AS log
    FROM (
        SELECT a.*, row_number() OVER (PARTITION BY a.delivery_id ORDER BY a.at DESC, a.id DESC) AS n FROM "event_attempts" a
    ) x
    WHERE x.n <= 20
    GROUP BY x.delivery_id
) a
WHERE d.id = a.delivery_id;

DROP TABLE "event_attempts";
