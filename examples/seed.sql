-- Seed data for the Takumi schema (migrations/001_initial_schema.sql).
--
-- Fills every table with realistic-looking, deterministic rows that respect
-- every constraint, and with the untidy data the example plans exist to fix:
--   * users.email in mixed case (still unique after lower())     → plan 001
--   * profiles.bio up to 500 characters                          → plan 002
--   * profiles.created_by NULL for older profiles                → plan 003
--   * skills.name with stray spaces and capitals, unique after
--     lower(btrim(name))                                         → plan 004
--   * skill_claims.status spread over the claim_status enum      → plan 005
--   * users.full_name "Given Family", one word, or NULL          → plan 006
--
-- Size: the custom setting bellows.seed_rows is the number of users
-- (default 5000). Profiles are 1:1 with users, ~3 skill claims per user,
-- ~2 endorsements per claim, 200 skills, one verifier per 50 users. No psql
-- variables are used, so any client can run it:
--
--   psql -v ON_ERROR_STOP=1 -f examples/seed.sql
--   PGOPTIONS='-c bellows.seed_rows=100000' psql -v ON_ERROR_STOP=1 -f examples/seed.sql
--   -- or, in the same session:  SET bellows.seed_rows = 100000;
--
-- The script empties the Takumi tables first (TRUNCATE … RESTART IDENTITY)
-- and expects the schema as migration 001 creates it, before any plan has
-- been contracted. Rows are the same on every run (setseed).

BEGIN;

-- Deterministic random() for this session (DO blocks keep psql output quiet).
DO $$ BEGIN PERFORM setseed(0.42); END $$;

TRUNCATE audit_log, endorsements, skill_claims, skills, verifiers, profiles,
         users, organisations
    RESTART IDENTITY;

-- Sizes, computed once from the setting.
CREATE TEMP TABLE seed_params ON COMMIT DROP AS
SELECT n AS users,
       greatest(n / 100, 10) AS organisations,
       200 AS skills
FROM (SELECT coalesce(nullif(btrim(current_setting('bellows.seed_rows', true)), ''), '5000')::int AS n) s;

DO $$
BEGIN
    IF (SELECT users FROM seed_params) < 1 THEN
        RAISE EXCEPTION 'bellows.seed_rows must be a positive integer';
    END IF;
END
$$;

-- Name pools (index 1-based; sizes are coprime so combinations spread well).
CREATE TEMP TABLE seed_given ON COMMIT DROP AS
SELECT ordinality::int AS i, v AS name
FROM unnest(ARRAY[
    'Aiko', 'Hiroshi', 'Yuki', 'Kenji', 'Sakura', 'Takumi', 'Mei', 'Ren',
    'Olivia', 'Liam', 'Amelia', 'Noah', 'Isla', 'Oliver', 'Ava', 'Elijah',
    'Sofia', 'Mateo', 'Lucía', 'Hugo', 'Chloé', 'Louis', 'Léa', 'Gabriel',
    'Anna', 'Jonas', 'Mia', 'Felix', 'Priya', 'Arjun', 'Ananya', 'Rohan',
    'Fatima', 'Omar', 'Leila', 'Yusuf', 'Zanele', 'Thabo', 'Amara', 'Kwame',
    'Ingrid', 'Lars', 'Astrid', 'Mikko', 'Siobhán', 'Declan', 'Nia', 'Rhys',
    'Wei', 'Min-jun', 'Seo-yeon', 'Linh', 'Minh', 'Ana', 'João', 'Marta'
]) WITH ORDINALITY AS t(v, ordinality);

CREATE TEMP TABLE seed_family ON COMMIT DROP AS
SELECT ordinality::int AS i, v AS name
FROM unnest(ARRAY[
    'Tanaka', 'Suzuki', 'Watanabe', 'Yamamoto', 'Nakamura', 'Kobayashi', 'Sato',
    'Smith', 'Jones', 'Williams', 'Brown', 'Taylor', 'Davies', 'Evans',
    'García', 'Martínez', 'Fernández', 'López', 'Dubois', 'Lefèvre', 'Moreau',
    'Müller', 'Schmidt', 'Schneider', 'Fischer', 'Sharma', 'Patel', 'Iyer',
    'Haddad', 'Nasser', 'Okafor', 'Mensah', 'Dlamini', 'Nilsen', 'Lindqvist',
    'Virtanen', 'O''Brien', 'Nguyen', 'Tran', 'Kim', 'Park', 'Chen', 'Wang',
    'Silva', 'Costa', 'van Rossum', 'de la Cruz', 'Mac an tSaoir',
    'Ó Súilleabháin', 'Kowalski', 'Nowak', 'Novák', 'Horvat'
]) WITH ORDINALITY AS t(v, ordinality);

-- organisations --------------------------------------------------------------
INSERT INTO organisations (id, name, slug, country, created_at)
OVERRIDING SYSTEM VALUE
SELECT g,
       initcap(w1.word) || ' ' || initcap(w2.word) || ' ' || kind.word,
       w1.word || '-' || w2.word || '-' || lower(kind.word) || '-' || g,
       (ARRAY['JP', 'GB', 'DE', 'FR', 'US', 'IN', 'BR', 'ZA', 'SE', 'KR'])[1 + g % 10],
       now() - make_interval(days => 2000 + g % 1500)
FROM seed_params p,
     generate_series(1, p.organisations) AS g,
     LATERAL (SELECT (ARRAY['northern', 'blue', 'iron', 'cedar', 'harbour', 'summit',
                            'silver', 'kaizen', 'granite', 'willow', 'bright', 'maple'])[1 + g % 12] AS word) w1,
     LATERAL (SELECT (ARRAY['works', 'labs', 'guild', 'forge', 'systems', 'studio', 'academy'])[1 + (g / 12) % 7] AS word) w2,
     LATERAL (SELECT (ARRAY['Ltd', 'GmbH', 'KK', 'Institute', 'Cooperative'])[1 + g % 5] AS word) kind;

-- users ----------------------------------------------------------------------
-- email: unique because it contains the user number; about half are stored
-- with capitals (Initcap, UPPER or a capitalised domain) so lower(email) is
-- still unique but differs from email.
-- full_name: "Given Family" (family names may contain spaces), one word for
-- every 17th user, NULL for every 97th.
INSERT INTO users (id, email, full_name, organisation_id, is_active, last_login_at, created_at, updated_at)
OVERRIDING SYSTEM VALUE
SELECT u.id,
       CASE u.id % 6
           WHEN 0 THEN initcap(u.local) || '@' || u.domain
           WHEN 1 THEN upper(u.local) || '@' || upper(u.domain)
           WHEN 2 THEN u.local || '@' || initcap(u.domain)
           ELSE u.local || '@' || u.domain
       END,
       CASE
           WHEN u.id % 97 = 0 THEN NULL
           WHEN u.id % 17 = 0 THEN u.given
           ELSE u.given || ' ' || u.family
       END,
       CASE WHEN u.id % 4 = 0 THEN NULL ELSE 1 + u.id % p.organisations END,
       u.id % 23 <> 0,
       CASE WHEN u.id % 9 = 0 THEN NULL ELSE u.created_at + random() * (now() - u.created_at) END,
       u.created_at,
       u.created_at + random() * (now() - u.created_at)
FROM seed_params p,
     LATERAL (
         SELECT g AS id,
                gn.name AS given,
                fn.name AS family,
                translate(lower(gn.name), 'áéíóúüöäèçñ''', 'aeiouuoaecn')
                    || '.' || translate(lower(replace(fn.name, ' ', '')), 'áéíóúüöäèçñ''', 'aeiouuoaecn')
                    || g AS local,
                (ARRAY['example.com', 'takumi.dev', 'mail.example.org', 'example.co.jp', 'example.net'])[1 + g % 5] AS domain,
                now() - make_interval(days => 1 + (g * 7919) % 1800, secs => (g * 104729) % 86400) AS created_at
         FROM generate_series(1, p.users) AS g
         JOIN seed_given gn ON gn.i = 1 + g % (SELECT count(*) FROM seed_given)
         JOIN seed_family fn ON fn.i = 1 + (g / 7) % (SELECT count(*) FROM seed_family)
     ) u;

-- profiles (1:1 with users) ----------------------------------------------------
-- bio: NULL, short, or long (up to the 500-character limit).
-- created_by: the user themself, an admin (users 1–10) for every 11th profile,
-- and NULL for every 5th — profiles from before the column existed.
INSERT INTO profiles (user_id, headline, bio, location, website, created_by, created_at, updated_at)
SELECT u.id,
       CASE WHEN u.id % 8 = 0 THEN NULL
            ELSE (ARRAY['Senior', 'Lead', 'Junior', 'Principal', 'Freelance', 'Staff'])[1 + u.id % 6] || ' '
              || (ARRAY['backend engineer', 'carpenter', 'data analyst', 'welder', 'UX designer',
                        'electrician', 'database administrator', 'translator', 'nurse', 'machinist'])[1 + u.id % 10]
       END,
       CASE
           WHEN u.id % 3 = 0 THEN NULL
           WHEN u.id % 10 = 1 THEN left(repeat('I build things that last, teach what I know and verify what others can do. ', 8), 500)
           ELSE 'Working in ' || coalesce(o.name, 'independent practice') || ' since '
                || extract(year FROM u.created_at)::int || '. ' || repeat('Always learning. ', (u.id % 5)::int)
       END,
       (ARRAY['Tokyo', 'Osaka', 'London', 'Berlin', 'Paris', 'Lisbon', 'Bengaluru',
              'São Paulo', 'Cape Town', 'Stockholm', 'Seoul', 'Remote'])[1 + u.id % 12],
       CASE WHEN u.id % 4 = 0 THEN 'https://example.com/~' || u.id ELSE NULL END,
       CASE
           WHEN u.id % 5 = 0 THEN NULL
           WHEN u.id % 11 = 0 THEN 1 + u.id % least(10, p.users)
           ELSE u.id
       END,
       u.created_at + interval '5 minutes',
       u.updated_at
FROM users u
CROSS JOIN seed_params p
LEFT JOIN organisations o ON o.id = u.organisation_id;

-- verifiers: one user in 50 -----------------------------------------------------
INSERT INTO verifiers (user_id, organisation_id, accredited_at, is_active, created_at)
SELECT u.id,
       coalesce(u.organisation_id, 1 + u.id % p.organisations),
       u.created_at + interval '30 days',
       u.id % 500 <> 0,
       u.created_at + interval '30 days'
FROM users u CROSS JOIN seed_params p
WHERE u.id % 50 = 0
ORDER BY u.id;

-- skills: 200 names, untidy but unique after lower(btrim(name)) -------------------
-- 50 distinct base skills × 4 variants give 200 distinct normalised names; the
-- stored names then get leading/trailing spaces, UPPER CASE or lower case.
INSERT INTO skills (id, name, category, created_at)
OVERRIDING SYSTEM VALUE
SELECT s.id,
       CASE WHEN s.id % 3 = 0 THEN '  ' ELSE '' END
       || CASE
              WHEN s.id % 5 = 0 THEN upper(s.clean)
              WHEN s.id % 7 = 0 THEN lower(s.clean)
              ELSE s.clean
          END
       || CASE WHEN s.id % 4 = 0 THEN ' ' ELSE '' END,
       s.category,
       now() - make_interval(days => 2500 - s.id::int)
FROM (
    SELECT (v.n - 1) * 50 + b.i AS id,
           v.prefix || b.name AS clean,
           CASE
               WHEN b.i <= 10 THEN 'software'
               WHEN b.i <= 20 THEN 'data & design'
               WHEN b.i <= 29 THEN 'business'
               WHEN b.i <= 44 THEN 'trades'
               ELSE 'care & operations'
           END AS category
    FROM unnest(ARRAY[
             'PostgreSQL', 'MySQL', 'Swift', 'Rust', 'Go', 'Python', 'TypeScript',
             'Kotlin', 'Java', 'C++', 'SQL Query Tuning', 'Kubernetes', 'Terraform',
             'Linux Administration', 'Network Security', 'Data Modelling',
             'Machine Learning', 'Statistics', 'UX Research', 'Interaction Design',
             'Technical Writing', 'Japanese Translation', 'German Translation',
             'Project Management', 'Scrum', 'Public Speaking', 'Negotiation',
             'Bookkeeping', 'Payroll', 'Joinery', 'Cabinet Making', 'Timber Framing',
             'MIG Welding', 'TIG Welding', 'CNC Machining', 'Electrical Installation',
             'Plumbing', 'HVAC Maintenance', 'Bricklaying', 'Tiling', 'Pottery',
             'Knife Sharpening', 'Sushi Preparation', 'Pastry', 'First Aid',
             'Wound Care', 'Phlebotomy', 'Forklift Operation', 'Drone Piloting',
             'Sign Language'
         ]) WITH ORDINALITY AS b(name, i)
    CROSS JOIN unnest(ARRAY['', 'Advanced ', 'Teaching ', 'Applied ']) WITH ORDINALITY AS v(prefix, n)
) s
ORDER BY s.id;

-- skill_claims: ~3 per user -----------------------------------------------------
-- Three distinct skills per user (offsets 0, 67, 134 modulo 200), a fourth for
-- every 4th user, one fewer for every 6th. Status: ~40% pending, ~45%
-- verified, ~15% rejected; decided claims name a verifier when one exists.
INSERT INTO skill_claims (user_id, skill_id, status, level, evidence_url, verifier_id, decided_at, created_at)
SELECT c.user_id,
       c.skill_id,
       c.status,
       1 + (c.user_id + c.k) % 5,
       CASE WHEN (c.user_id + c.k) % 3 = 0 THEN NULL
            ELSE 'https://evidence.example.com/' || c.user_id || '/' || c.skill_id END,
       CASE WHEN c.status = 'pending' OR p.verifiers = 0 THEN NULL
            ELSE 1 + (c.user_id * 31 + c.k) % p.verifiers END,
       CASE WHEN c.status = 'pending' THEN NULL
            ELSE least(now(), c.created_at + make_interval(days => 1 + ((c.user_id + c.k) % 20)::int)) END,
       c.created_at
FROM (SELECT (SELECT count(*) FROM verifiers)::int AS verifiers, s.skills FROM seed_params s) p,
     LATERAL (
         SELECT u.id AS user_id,
                k,
                1 + (u.id * 7 + k * 67) % p.skills AS skill_id,
                CASE
                    WHEN (u.id * 3 + k) % 20 < 8 THEN 'pending'
                    WHEN (u.id * 3 + k) % 20 < 17 THEN 'verified'
                    ELSE 'rejected'
                END::claim_status AS status,
                least(now(), u.created_at + make_interval(days => 10 + k * 30 + (u.id % 40)::int)) AS created_at
         FROM users u,
              generate_series(0, 2 + (u.id % 4 = 0)::int - (u.id % 6 = 0)::int) AS k
     ) c
ORDER BY c.user_id, c.k;

-- endorsements: ~2 per claim (1 to 3), never by the claimant ------------------------
INSERT INTO endorsements (claim_id, endorser_id, note, created_at)
SELECT c.id,
       e.endorser_id,
       CASE WHEN (c.id + j) % 4 = 0 THEN NULL
            ELSE (ARRAY['Worked with them for two years.', 'Saw this first-hand on a client project.',
                        'Excellent and reliable.', 'Taught me a lot about this.',
                        'Reviewed their work; solid.'])[1 + (c.id + j) % 5] END,
       least(now(), c.created_at + make_interval(days => j * 3))
FROM skill_claims c
CROSS JOIN seed_params p
CROSS JOIN LATERAL generate_series(1, 1 + (c.id % 3)::int) AS j
CROSS JOIN LATERAL (SELECT 1 + (c.user_id - 1 + j * 97 + c.id) % p.users AS endorser_id) e
WHERE e.endorser_id <> c.user_id
ON CONFLICT (claim_id, endorser_id) DO NOTHING;

-- audit_log: account creations and claim decisions -------------------------------
INSERT INTO audit_log (actor_id, action, entity_type, entity_id, details, created_at)
SELECT u.id, 'user.created', 'user', u.id,
       jsonb_build_object('organisation_id', u.organisation_id),
       u.created_at
FROM users u
UNION ALL
SELECT v.user_id, 'claim.' || c.status::text, 'skill_claim', c.id,
       jsonb_build_object('skill_id', c.skill_id, 'level', c.level),
       c.decided_at
FROM skill_claims c
JOIN verifiers v ON v.id = c.verifier_id
ORDER BY 6;

-- Identity columns continue after the explicit ids used above.
DO $$
BEGIN
    PERFORM setval(pg_get_serial_sequence('organisations', 'id'), (SELECT max(id) FROM organisations));
    PERFORM setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users));
    PERFORM setval(pg_get_serial_sequence('skills', 'id'), (SELECT max(id) FROM skills));
END
$$;

COMMIT;

ANALYZE organisations, users, profiles, verifiers, skills, skill_claims, endorsements, audit_log;
