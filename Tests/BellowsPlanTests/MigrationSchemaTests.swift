import BellowsSQL
import Testing
@testable import BellowsPlan

/// The offline catalog must read the migrations the way PostgreSQL's catalog would show them,
/// so `bellows render` prints what the engine runs. Expected values are what PostgreSQL 15
/// prints (`format_type`, `pg_get_expr`, `pg_get_constraintdef`, chosen names).
@Suite struct MigrationSchemaTests {
    static func table(_ sql: String, _ name: String = "t") throws -> TableInfo {
        try #require(MigrationSchema.catalog(fromMigrations: [sql]).table(TableName(schema: nil, name: name)))
    }

    @Test(arguments: [
        ("varchar(500)", "character varying(500)"), ("VARCHAR ( 500 )", "character varying(500)"), ("character varying", "character varying"),
        ("int", "integer"), ("int4", "integer"), ("serial", "integer"), ("bigserial", "bigint"), ("smallserial", "smallint"),
        ("float", "double precision"), ("float(10)", "real"), ("float(30)", "double precision"), ("decimal(12, 2)", "numeric(12,2)"),
        ("numeric", "numeric"), ("char", "character(1)"), ("char(3)", "character(3)"), ("timestamptz", "timestamp with time zone"),
        ("timestamp(3)", "timestamp(3) without time zone"), ("timestamp(3) with time zone", "timestamp(3) with time zone"),
        ("time", "time without time zone"), ("timetz", "time with time zone"), ("time(2) without time zone", "time(2) without time zone"),
        ("text[]", "text[]"), ("int[]", "integer[]"), ("integer array", "integer[]"), ("int[3]", "integer[]"), ("character(4)[]", "character(4)[]"),
        ("bool", "boolean"), ("double precision", "double precision"), ("\"MyType\"", "\"MyType\""), ("myschema.mytype", "myschema.mytype"),
        ("bit", "bit(1)"), ("varbit(3)", "bit varying(3)"), ("jsonb", "jsonb"), ("uuid", "uuid"), ("interval", "interval"),
    ])
    func typesReadAsFormatTypePrintsThem(_ written: String, _ expected: String) throws {
        let t = try Self.table("CREATE TABLE t (id int PRIMARY KEY, c \(written));")
        #expect(t.column("c")?.type == expected)
    }

    @Test(arguments: [
        ("text DEFAULT 'x'", "'x'::text"), ("varchar(5) DEFAULT 'y'", "'y'::character varying"), ("char(2) DEFAULT 'zz'", "'zz'::bpchar"),
        ("int DEFAULT -1", "'-1'::integer"), ("numeric DEFAULT 1.5", "1.5"), ("boolean DEFAULT false", "false"),
        ("timestamptz DEFAULT now()", "now()"), ("text[] DEFAULT '{}'", "'{}'::text[]"), ("jsonb NOT NULL DEFAULT '{}'::jsonb", "'{}'::jsonb"),
        ("serial", "nextval('t_c_seq'::regclass)"),
    ])
    func simpleDefaultsReadAsPgGetExprPrintsThem(_ written: String, _ expected: String) throws {
        let t = try Self.table("CREATE TABLE t (id int PRIMARY KEY, c \(written));")
        #expect(t.column("c")?.defaultExpression == expected)
    }

    @Test func theTakumiSchema() throws {
        let catalog = Repository.catalog
        #expect(catalog.tables.map(\.name) == ["organisations", "users", "profiles", "verifiers", "skills", "skill_claims", "endorsements", "audit_log"])
        let users = try #require(catalog.table(TableName(schema: nil, name: "users")))
        #expect(users.columns.map(\.name) == ["id", "email", "full_name", "organisation_id", "is_active", "last_login_at", "created_at", "updated_at"])
        #expect(users.columns.map(\.type) == ["bigint", "text", "text", "bigint", "boolean", "timestamp with time zone", "timestamp with time zone", "timestamp with time zone"])
        #expect(users.columns.map(\.notNull) == [true, true, false, false, true, false, true, true])
        #expect(users.column("is_active")?.defaultExpression == "true")
        #expect(users.column("created_at")?.defaultExpression == "now()")
        #expect(users.primaryKey == ["id"])
        #expect(users.indexes.map(\.name).sorted() == ["users_email_key", "users_organisation_id_idx", "users_pkey"])
        #expect(users.constraints.first { $0.kind == "f" }?.definition == "FOREIGN KEY (organisation_id) REFERENCES organisations(id) ON DELETE SET NULL")

        let profiles = try #require(catalog.table(TableName(schema: "public", name: "profiles")))
        #expect(profiles.column("bio")?.type == "character varying(500)")
        #expect(profiles.foreignKey(on: "created_by")?.definition == "FOREIGN KEY (created_by) REFERENCES users(id)")
        #expect(profiles.foreignKey(on: "user_id")?.definition == "FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE")
        #expect(profiles.uniqueIndex(on: "user_id")?.name == "profiles_user_id_key")
        #expect(profiles.indexes.first { $0.name == "profiles_created_by_idx" }.map { $0.isPlain && !$0.isUnique } == true)

        let organisations = try #require(catalog.table(TableName(schema: nil, name: "organisations")))
        #expect(organisations.column("country")?.type == "character(2)")
        #expect(organisations.constraints.filter { $0.kind == "c" }.map(\.name) == ["organisations_slug_check"])

        let claims = try #require(catalog.table(TableName(schema: nil, name: "skill_claims")))
        #expect(claims.column("status").map { ($0.type, $0.defaultExpression) } ?? ("", nil) == ("claim_status", "'pending'::claim_status"))
        #expect(claims.column("level")?.type == "smallint")
        #expect(claims.constraints.filter { $0.kind == "c" }.map(\.name) == ["skill_claims_level_check"])
        #expect(claims.indexes.map(\.name).sorted() == ["skill_claims_pkey", "skill_claims_skill_id_idx", "skill_claims_status_idx",
                                                        "skill_claims_user_id_skill_id_key", "skill_claims_verifier_id_idx"])
        #expect(claims.foreignKey(on: "skill_id")?.definition == "FOREIGN KEY (skill_id) REFERENCES skills(id) ON DELETE RESTRICT")

        let endorsements = try #require(catalog.table(TableName(schema: nil, name: "endorsements")))
        #expect(endorsements.primaryKey == ["claim_id", "endorser_id"])
        #expect(endorsements.batchKey == ["claim_id", "endorser_id"])
        let audit = try #require(catalog.table(TableName(schema: nil, name: "audit_log")))
        #expect(audit.column("details")?.defaultExpression == "'{}'::jsonb")
    }

    @Test func constraintNamesAsPostgreSQLChoosesThem() throws {
        let t = try Self.table("""
            CREATE TABLE r1 (id int PRIMARY KEY, x int, y int, CHECK (x > 0), CHECK (x > y), CHECK (x < 100),
                             CONSTRAINT named CHECK (y > 0), z int CHECK (z > 0 AND x > 0), UNIQUE (x, y));
            """, "r1")
        #expect(t.constraints.map(\.name).sorted() == ["named", "r1_check", "r1_check1", "r1_pkey", "r1_x_check", "r1_x_check1", "r1_x_y_key"])
        let r2 = try #require(MigrationSchema.catalog(fromMigrations: ["""
            CREATE TABLE r1 (id int PRIMARY KEY);
            CREATE TABLE r2 (id int PRIMARY KEY, a int REFERENCES r1 ON DELETE SET NULL ON UPDATE CASCADE,
                             b int REFERENCES r1 (id) MATCH FULL DEFERRABLE INITIALLY DEFERRED, c int,
                             FOREIGN KEY (c) REFERENCES r1(id) ON DELETE RESTRICT);
            CREATE INDEX ON r2 (a);
            CREATE INDEX ON r2 (a);
            CREATE INDEX ON r2 (lower(c::text));
            CREATE UNIQUE INDEX ON r2 (b, c);
            """]).table(TableName(schema: nil, name: "r2")))
        #expect(r2.constraints.filter { $0.kind == "f" }.map(\.definition) == [
            "FOREIGN KEY (a) REFERENCES r1(id) ON UPDATE CASCADE ON DELETE SET NULL",
            "FOREIGN KEY (b) REFERENCES r1(id) MATCH FULL DEFERRABLE INITIALLY DEFERRED",
            "FOREIGN KEY (c) REFERENCES r1(id) ON DELETE RESTRICT",
        ])
        #expect(r2.indexes.map(\.name) == ["r2_pkey", "r2_a_idx", "r2_a_idx1", "r2_lower_idx", "r2_b_c_idx"])
        #expect(r2.indexes.map(\.isPlain) == [true, true, true, false, true])
        #expect(r2.indexes.map(\.isUnique) == [true, false, false, false, true])
    }

    @Test func laterMigrationsChangeTheShape() throws {
        let t = try Self.table("""
            CREATE TABLE t (id bigint PRIMARY KEY, a text, b int, c text);
            CREATE INDEX t_b_idx ON t (b);
            CREATE INDEX CONCURRENTLY IF NOT EXISTS t_partial ON t (a) WHERE a IS NOT NULL;
            CREATE INDEX t_gin ON t USING gin (to_tsvector('simple', c));
            ALTER TABLE t ADD COLUMN d varchar(20) NOT NULL DEFAULT 'x' UNIQUE,
                          ADD COLUMN IF NOT EXISTS e int REFERENCES t (id) ON DELETE CASCADE,
                          ADD COLUMN IF NOT EXISTS a text;
            ALTER TABLE t RENAME COLUMN b TO bb;
            ALTER TABLE t ALTER COLUMN a TYPE varchar(10) USING a::varchar(10), ALTER COLUMN a SET NOT NULL,
                          ALTER COLUMN c SET DEFAULT 'n/a', ALTER COLUMN d DROP DEFAULT;
            ALTER TABLE t ADD CONSTRAINT t_c_nonempty CHECK (c <> '') NOT VALID;
            ALTER TABLE t ADD CONSTRAINT t_a_key UNIQUE (a);
            ALTER TABLE t RENAME CONSTRAINT t_a_key TO t_a_unique;
            ALTER INDEX t_b_idx RENAME TO t_bb_idx;
            ALTER TABLE t DROP COLUMN c;
            DROP INDEX CONCURRENTLY IF EXISTS t_partial;
            """)
        #expect(t.columns.map(\.name) == ["id", "a", "bb", "d", "e"])
        #expect(t.column("a").map { ($0.type, $0.notNull) } ?? ("", false) == ("character varying(10)", true))
        #expect(t.column("d").map { ($0.type, $0.notNull, $0.defaultExpression) } ?? ("", false, "?") == ("character varying(20)", true, nil))
        #expect(t.indexes.map(\.name) == ["t_pkey", "t_bb_idx", "t_d_key", "t_a_unique"])
        #expect(t.indexes.first { $0.name == "t_bb_idx" }?.columns == ["bb"])
        #expect(t.foreignKey(on: "e")?.definition == "FOREIGN KEY (e) REFERENCES t(id) ON DELETE CASCADE")
        #expect(!t.constraints.contains { $0.name == "t_c_nonempty" }, "dropped with column c")
        #expect(t.uniqueIndex(on: "a")?.name == "t_a_unique")

        let renamed = MigrationSchema.catalog(fromMigrations: ["CREATE TABLE old (id int PRIMARY KEY); ALTER TABLE old RENAME TO new;"])
        #expect(renamed.tables.map(\.name) == ["new"])
        let dropped = MigrationSchema.catalog(fromMigrations: ["CREATE TABLE a (id int); CREATE TABLE b (id int); DROP TABLE IF EXISTS a, b;"])
        #expect(dropped.tables.isEmpty)
        let schema = MigrationSchema.catalog(fromMigrations: ["CREATE TABLE IF NOT EXISTS app.\"Items\" (\"Id\" int PRIMARY KEY);"])
        #expect(schema.table(TableName(schema: "app", name: "Items"))?.primaryKey == ["Id"])
    }

    @Test func whatItCannotReadIsLeftOut() {
        let catalog = MigrationSchema.catalog(fromMigrations: [
            "CREATE TABLE t (LIKE other INCLUDING ALL); CREATE TABLE u AS SELECT 1; ALTER TABLE missing ADD COLUMN x int; CREATE INDEX ON nowhere (x);",
            "CREATE TABLE (", "ALTER TABLE", "CREATE INDEX", "DROP INDEX", "ALTER INDEX x", ";;;", "",
        ])
        #expect(catalog.tables.map(\.name) == ["t"])
        #expect(catalog.tables.first?.columns.isEmpty == true)
    }

    /// A stored generated column is nullable and has no default (its expression is not one);
    /// an identity column is NOT NULL (hostile-d 17: `full_name` read as NOT NULL + a default).
    @Test func aGeneratedColumnIsNeitherNotNullNorDefaulted() throws {
        let t = try Self.table("""
            CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, first text, last text,
              full_name text GENERATED ALWAYS AS (coalesce(first, '') || ' ' || coalesce(last, '')) STORED,
              n bigint GENERATED BY DEFAULT AS IDENTITY, cents int);
            ALTER TABLE t ADD COLUMN euros numeric GENERATED ALWAYS AS (cents / 100.0) STORED;
            """)
        #expect(t.column("full_name")?.notNull == false)
        #expect(t.column("full_name")?.defaultExpression == nil)
        #expect(t.column("euros")?.notNull == false)
        #expect(t.column("euros")?.defaultExpression == nil)
        #expect(t.column("full_name")?.generated == .stored)
        #expect(t.column("euros")?.generated == .stored)
        #expect(t.column("id")?.notNull == true)
        #expect(t.column("n")?.notNull == true)
        #expect(t.column("n")?.defaultExpression == nil)
        #expect(t.column("n")?.generated == nil)
        #expect(try Self.table("CREATE TABLE t (a int, b int GENERATED ALWAYS AS (a * 2) STORED); ALTER TABLE t ALTER COLUMN b DROP EXPRESSION;")
            .column("b")?.generated == nil)
    }
}
