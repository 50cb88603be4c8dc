-- More room on each page for rows updated in place (HOT; issue 14: WAL records). A row's page fills with the rows
-- written after it before its own updates come, and an update that finds no room on its page writes an entry in
-- every index. With fillfactor 75 for outbound messages and 100 for contacts and sessions, `BENCH=e2e
-- BENCH_E2E_REPLICAS=1 pnpm bench` counted 54 % of the outbound updates HOT, 70 % of the contacts' (next_seq, last
-- inbound) and 61 % of the sessions'; with 50, 80 and 80: 67 %, 89 % and 86 %, and 65.3 -> 59.3 WAL records per
-- answered message. The outbound table takes up to twice the pages for it (retention bounds it).
ALTER TABLE "outbound_messages" SET (fillfactor = 50);
ALTER TABLE "contacts" SET (fillfactor = 80);
ALTER TABLE "sessions" SET (fillfactor = 80);
