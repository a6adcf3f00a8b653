-- Migration: 001_telemetry_schema
-- Description: IoT telemetry: devices (ids given by the fleet, enum kind, jsonb labels), readings (composite key with timestamptz, double precision values), alerts (bigserial)
-- Dependencies: none

BEGIN;

CREATE TYPE device_kind AS ENUM ('sensor', 'gateway', 'actuator');

CREATE TABLE devices (
    id            bigint      PRIMARY KEY,
    serial        text        NOT NULL,
    kind          device_kind NOT NULL,
    firmware      text,
    installed_at  timestamptz,
    labels        jsonb,
    CONSTRAINT devices_serial_key UNIQUE (serial)
);

CREATE TABLE readings (
    device_id  bigint           NOT NULL REFERENCES devices (id),
    taken_at   timestamptz      NOT NULL,
    seq        integer          NOT NULL,
    value      double precision NOT NULL,
    unit       text             NOT NULL DEFAULT 'C',
    quality    smallint         CHECK (quality BETWEEN 0 AND 100),
    raw        text,
    PRIMARY KEY (device_id, taken_at, seq)
);

CREATE TABLE alerts (
    id         bigserial   PRIMARY KEY,
    device_id  bigint      NOT NULL,
    raised_at  timestamptz NOT NULL DEFAULT now(),
    level      integer     NOT NULL DEFAULT 1,
    message    text
);

COMMIT;
