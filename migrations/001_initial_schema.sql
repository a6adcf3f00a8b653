-- Migration: 001_initial_schema
-- Description: Takumi skills-verification platform: organisations, users, profiles, verifiers, skills, skill claims, endorsements and the audit log
-- Dependencies: none

-- The whole initial schema is created in one transaction: every table is new
-- and empty, so no lock here can block a running application.
BEGIN;

-- Lifecycle of a skill claim. Plan 005 replaces this enum by text + CHECK.
CREATE TYPE claim_status AS ENUM ('pending', 'verified', 'rejected');

-- Companies, schools and certification bodies that employ verifiers.
CREATE TABLE organisations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL,
    slug        text        NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9-]+$'),
    country     char(2),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Accounts. email is unique as stored and holds historical mixed-case
-- addresses; full_name is free text ("Given Family", sometimes one word).
CREATE TABLE users (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email            text        NOT NULL UNIQUE,
    full_name        text,
    organisation_id  bigint      REFERENCES organisations (id) ON DELETE SET NULL,
    is_active        boolean     NOT NULL DEFAULT true,
    last_login_at    timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX users_organisation_id_idx ON users (organisation_id);

-- One public profile per user. created_by is the account that created the
-- profile (the user, or an admin on their behalf); older rows predate the
-- column and hold NULL — plan 003 backfills it and makes it NOT NULL.
CREATE TABLE profiles (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint       NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    headline    text,
    bio         varchar(500),
    location    text,
    website     text,
    created_by  bigint       REFERENCES users (id),
    created_at  timestamptz  NOT NULL DEFAULT now(),
    updated_at  timestamptz  NOT NULL DEFAULT now()
);

CREATE INDEX profiles_created_by_idx ON profiles (created_by);

-- Users entitled to verify skill claims, usually on behalf of an organisation.
CREATE TABLE verifiers (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id          bigint      NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    organisation_id  bigint      REFERENCES organisations (id) ON DELETE SET NULL,
    accredited_at    timestamptz NOT NULL DEFAULT now(),
    is_active        boolean     NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX verifiers_organisation_id_idx ON verifiers (organisation_id);

-- The skills catalogue. Names were typed in by hand over the years
-- ("  PostgreSQL", "Rust ") and are not unique yet — plan 004 normalises them
-- to lower(btrim(name)) and adds the UNIQUE constraint.
CREATE TABLE skills (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL,
    category    text        NOT NULL DEFAULT 'general',
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A user claims a skill at a level; a verifier accepts or rejects the claim.
CREATE TABLE skill_claims (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint       NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    skill_id     bigint       NOT NULL REFERENCES skills (id) ON DELETE RESTRICT,
    status       claim_status NOT NULL DEFAULT 'pending',
    level        smallint     NOT NULL DEFAULT 1 CHECK (level BETWEEN 1 AND 5),
    evidence_url text,
    verifier_id  bigint       REFERENCES verifiers (id) ON DELETE SET NULL,
    decided_at   timestamptz,
    created_at   timestamptz  NOT NULL DEFAULT now(),
    UNIQUE (user_id, skill_id)
);

CREATE INDEX skill_claims_skill_id_idx ON skill_claims (skill_id);
CREATE INDEX skill_claims_verifier_id_idx ON skill_claims (verifier_id);

-- Peers vouching for a claim; a user endorses a given claim at most once.
CREATE TABLE endorsements (
    claim_id     bigint      NOT NULL REFERENCES skill_claims (id) ON DELETE CASCADE,
    endorser_id  bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    note         text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (claim_id, endorser_id)
);

CREATE INDEX endorsements_endorser_id_idx ON endorsements (endorser_id);

-- Append-only record of who changed what.
CREATE TABLE audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_id     bigint      REFERENCES users (id) ON DELETE SET NULL,
    action       text        NOT NULL,
    entity_type  text        NOT NULL,
    entity_id    bigint,
    details      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX audit_log_entity_idx ON audit_log (entity_type, entity_id);

COMMIT;
