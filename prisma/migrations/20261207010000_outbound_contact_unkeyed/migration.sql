-- An outbound message's contact is not a foreign key any more (issue 14: WAL records). Its check locked the contact's
-- row version that the outbound writer had just updated (next_seq) in the same statement: a lock record per write.
-- The writer inserts only for a contact whose row that update found, under the contact's batch lock; a contact's
-- erasure deletes its messages under the same lock, and a number's deletion takes them by their provider's key.
ALTER TABLE "outbound_messages" DROP CONSTRAINT "outbound_messages_contact_id_fkey";
