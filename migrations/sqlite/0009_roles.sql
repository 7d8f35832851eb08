-- Users and roles. Every user so far was the shared API account, which could do everything:
-- it stays an admin. token_generation is written into each token at login; a password change
-- or a disable raises it, so every older token of that user stops working on every replica.
ALTER TABLE "user" ADD COLUMN role TEXT NOT NULL DEFAULT 'viewer'
    CHECK (role IN ('viewer', 'editor', 'admin'));
ALTER TABLE "user" ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE "user" ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;
UPDATE "user" SET role = 'admin';
