-- Room on the page for an inbound message's one update, its step's outcome (issue 14: WAL records). Its state is
-- indexed, so the update writes index entries anyway; but one that finds no room on its page also writes a lock
-- record first (Postgres marks the old version while it looks for another page).
ALTER TABLE "inbound_messages" SET (fillfactor = 70);
