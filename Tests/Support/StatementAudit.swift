import PGClient

/// An oracle independent of the migration runner: the server itself records, in
/// `statement_audit`, every committed `INSERT` into the audited tables (a statement-level
/// trigger: `INSERT <rows>`) and every completed `CREATE INDEX` and dropped index outside the
/// `bellows` schema (event triggers: `CREATE INDEX public.t_idx`, `DROP INDEX public.t_idx`). A statement applied twice
/// leaves two rows; one rolled back or cancelled leaves none. Never read the runner's ledger to
/// prove how often something ran: read this.
public enum StatementAudit {
    /// Creates the audit table, the event trigger (superuser) and a trigger on each of `tables`
    /// (which must exist).
    public static func install(_ connection: Connection, tables: [String]) throws {
        try connection.executeScript("""
            CREATE TABLE statement_audit (id bigserial PRIMARY KEY, what text NOT NULL);
            CREATE FUNCTION statement_audit_insert() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              INSERT INTO statement_audit (what) SELECT 'INSERT ' || count(*) FROM new_rows;
              RETURN NULL;
            END $$;
            CREATE FUNCTION statement_audit_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
            BEGIN
              INSERT INTO statement_audit (what)
              SELECT command_tag || ' ' || object_identity FROM pg_event_trigger_ddl_commands()
              WHERE command_tag = 'CREATE INDEX' AND schema_name IS DISTINCT FROM 'bellows';
            END $$;
            CREATE EVENT TRIGGER statement_audit_ddl ON ddl_command_end EXECUTE FUNCTION statement_audit_ddl();
            CREATE FUNCTION statement_audit_drop() RETURNS event_trigger LANGUAGE plpgsql AS $$
            BEGIN
              INSERT INTO statement_audit (what)
              SELECT 'DROP INDEX ' || object_identity FROM pg_event_trigger_dropped_objects()
              WHERE object_type = 'index' AND original AND schema_name IS DISTINCT FROM 'bellows';
            END $$;
            CREATE EVENT TRIGGER statement_audit_drop ON sql_drop EXECUTE FUNCTION statement_audit_drop();
            """)
        for table in tables {
            try connection.execute("""
                CREATE TRIGGER statement_audit AFTER INSERT ON \(Connection.quoteIdentifier(table))
                REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION statement_audit_insert()
                """)
        }
    }

    /// What was recorded, sorted (the order in which concurrent statements commit is not
    /// what a test asserts).
    public static func entries(_ connection: Connection) throws -> [String] {
        try connection.query("SELECT what FROM statement_audit ORDER BY what").map { try $0.string("what") }
    }
}
