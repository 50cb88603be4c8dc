-- Fails the statement that calls it, with SQLSTATE GTCEW and the tenant as its detail (issue 14). A hot statement
-- written without its events (no endpoint was known to want them) calls it when, in the statement's own snapshot, an
-- enabled endpoint of one of its tenants wants them: the statement changes nothing, and its producer writes it again
-- with its events (libs/db/src/event-outbox.ts, unwantedEventsCtes). Asking in the statement itself saves the round
-- trip of asking first.
CREATE FUNCTION "gtc_events_wanted"(tenant uuid) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RAISE EXCEPTION 'an endpoint of tenant % wants this statement''s events', tenant USING ERRCODE = 'GTCEW', DETAIL = tenant::text;
END
$$;
