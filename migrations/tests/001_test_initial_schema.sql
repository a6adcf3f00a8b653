-- Migration test of 001_initial_schema (the migration guide's practice, automated):
-- runs after the migration in a transaction that Bellows always rolls back; any
-- error fails it, so RAISE EXCEPTION is the assertion.

INSERT INTO organisations (name, slug, country) VALUES ('Acme Certification', 'acme-cert', 'DE');
INSERT INTO users (email, full_name, organisation_id)
SELECT 'ada@example.com', 'Ada Lovelace', id FROM organisations WHERE slug = 'acme-cert';
INSERT INTO users (email, full_name) VALUES ('grace@example.com', 'Grace Hopper');
INSERT INTO skills (name) VALUES ('postgresql');
INSERT INTO skill_claims (user_id, skill_id, level)
SELECT u.id, s.id, 4 FROM users u, skills s WHERE u.email = 'ada@example.com' AND s.name = 'postgresql';

-- A new claim is pending; a level outside 1–5 and a second claim of the same skill are refused.
DO $$
DECLARE
    claim skill_claims%ROWTYPE;
BEGIN
    SELECT * INTO claim FROM skill_claims;
    IF claim.status <> 'pending' THEN
        RAISE EXCEPTION 'a new skill claim is %, expected pending', claim.status;
    END IF;
    BEGIN
        UPDATE skill_claims SET level = 6;
        RAISE EXCEPTION 'skill_claims accepted level 6';
    EXCEPTION WHEN check_violation THEN
        NULL;
    END;
    BEGIN
        INSERT INTO skill_claims (user_id, skill_id) VALUES (claim.user_id, claim.skill_id);
        RAISE EXCEPTION 'a user could claim the same skill twice';
    EXCEPTION WHEN unique_violation THEN
        NULL;
    END;
END
$$;

-- Deleting a user deletes their claims; deleting an organisation keeps its users.
DO $$
BEGIN
    DELETE FROM organisations WHERE slug = 'acme-cert';
    IF (SELECT organisation_id FROM users WHERE email = 'ada@example.com') IS NOT NULL THEN
        RAISE EXCEPTION 'users.organisation_id was not set to NULL when its organisation went';
    END IF;
    DELETE FROM users WHERE email = 'ada@example.com';
    IF EXISTS (SELECT FROM skill_claims) THEN
        RAISE EXCEPTION 'skill claims of a deleted user remain';
    END IF;
END
$$;
