CREATE DOMAIN dfloat AS double precision;
CREATE TABLE t (id dfloat PRIMARY KEY, v text NOT NULL);
