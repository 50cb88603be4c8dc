-- A delivery's lease is a HOT update (issue 15, cost): the dispatcher's claim writes `leased_until` only (no index
-- holds it; the row stays in the due index at its due time while in flight), and pages keep room for that new row
-- version, so the lease adds no index entry. New pages are filled to 70%.

ALTER TABLE "event_deliveries" SET (fillfactor = 70);
