import BellowsTestSupport
import Foundation
import PGClient
import Testing

@Suite(.enabled(if: TestDatabase.enabled, "set BELLOWS_SKIP_DB_TESTS=1 only to skip database tests on purpose"))
struct ConnectionTests {
    @Test func bindsParametersAndReadsTypedColumns() throws {
        let db = try TestDatabase.create("pgc")
        defer { db.drop() }
        let connection = try db.connect()
        let row = try #require(try connection.query(
            "SELECT $1::int AS n, $2::text AS s, $3::bool AS b, $4::text AS missing, $5::float8 AS d, ARRAY['a', 'b c', NULL] AS arr",
            [42, "it's \"quoted\"", true, nil, 2.5]).first)
        #expect(try row.int("n") == 42)
        #expect(try row.string("s") == "it's \"quoted\"")
        #expect(try row.bool("b"))
        #expect(try row.optionalString("missing") == nil)
        #expect(try row.double("d") == 2.5)
        #expect(try row.stringArray("arr") == ["a", "b c"])
        #expect(throws: PostgresError.self) { try row.string("missing") }
        #expect(throws: PostgresError.self) { try row.string("no_such_column") }
    }

    @Test func serverErrorsCarryEveryField() throws {
        let db = try TestDatabase.create("pgc")
        defer { db.drop() }
        let connection = try db.connect()
        try connection.execute("CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL CONSTRAINT v_short CHECK (length(v) < 5))")
        try connection.execute("INSERT INTO t VALUES (1, 'a')")
        do {
            try connection.execute("INSERT INTO t VALUES ($1, $2)", [1, "b"])
            Issue.record("expected a unique violation")
        } catch {
            #expect(error.sqlState == .uniqueViolation)
            #expect(error.kind == .server)
            #expect(error.detail?.contains("(id)=(1)") == true)
            #expect(error.table == "t")
            #expect(error.constraint == "t_pkey")
        }
        do {
            try connection.execute("INSERT INTO t VALUES (2, 'toolong')")
            Issue.record("expected a check violation")
        } catch {
            #expect(error.sqlState == .checkViolation)
            #expect(error.constraint == "v_short")
        }
        do {
            try connection.execute("SELECT *\nFROM t WHERE nosuch = 1")
            Issue.record("expected an undefined column")
        } catch {
            #expect(error.sqlState == .undefinedColumn)
            #expect(error.position != nil)
            #expect(error.statementLineColumn?.line == 2)
        }
        do {
            try connection.execute("SELECT * FROM nosuch_table")
        } catch {
            #expect(error.sqlState == .undefinedTable)
        }
    }

    @Test func transactionsCommitAndRollBack() throws {
        let db = try TestDatabase.create("pgc")
        defer { db.drop() }
        let connection = try db.connect()
        try connection.execute("CREATE TABLE t (id int)")
        try connection.withTransaction { try connection.execute("INSERT INTO t VALUES (1)") }
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try connection.withTransaction {
                try connection.execute("INSERT INTO t VALUES (2)")
                throw Boom()
            }
        }
        #expect(!connection.inTransaction)
        #expect(try connection.query("SELECT count(*) AS n FROM t").first?.int("n") == 1)
    }

    @Test func collectsNotices() throws {
        let db = try TestDatabase.create("pgc")
        defer { db.drop() }
        let connection = try db.connect()
        _ = connection.takeNotices()
        try connection.execute("DO $$ BEGIN RAISE NOTICE 'hello %', 42; END $$")
        let notices = connection.takeNotices()
        #expect(notices.map(\.message) == ["hello 42"])
        #expect(connection.takeNotices().isEmpty)
    }

    @Test func connectionFailureNeverShowsThePassword() throws {
        do {
            _ = try Connection("host=127.0.0.1 port=1 user=x password=sekrit123 connect_timeout=2")
            Issue.record("expected a connection failure")
        } catch {
            #expect(error.kind == .connection)
            #expect(!error.description.contains("sekrit123"))
        }
    }

    /// libpq quotes the whole URI in some of its parse errors: the message must never carry the password.
    @Test(arguments: [
        "postgresql://u:s3cretPW@host:badport/db",
        "postgresql://u:s3cretPW@[::1/db",
        "postgresql://u:s3cretPW@host/db?sslmode",
        "postgresql://u:s3cretPW@host/db?nosuchopt=1",
        "postgresql://u:s3cretPW@host/db?sslmode=bogus",
        "postgresql://u:s3cretPW@host:5432:5433/db",
        "postgresql://u:s3cretPW@host/db?port=x",
        "postgresql://u:s3cretPW@/db?host=/nonexistent&connect_timeout=1",
        "postgresql://u:s3cretPW@127.0.0.1:1/db?connect_timeout=1",
        "postgresql://u:s3cretPW@host/db?connect_timeout=abc",
        "postgres://u:s3cretPW@host/db?=x",
        "postgresql://u:s3cretPW@host/db?a=b=c",
        "postgresql://u:s3cret%PW@host/db",
        "postgresql://u:s3cretPW%zz@host/db",
        "postgresql://u:s3cretPW@ho%st/db",
        "postgresql://u:s3cretPW@host/d%b",
        "postgresql://u:s3cretPW@host/db?target_session_attrs=nope",
        "postgresql://u:s3cretPW@host/db?keepalives=x",
        "postgresql://u:s3cretPW@host,other:x/db",
        "postgresql://u:s3cret%50W@127.0.0.1:1/db?connect_timeout=1&sslmode=zz",
        "host=127.0.0.1 port=1 password=s3cretPW sslmode=bogus",
        "host=127.0.0.1 port=x password='s3cretPW'",
        "password=s3cretPW host=127.0.0.1 port=1 connect_timeout=1 nosuch=1",
    ])
    func malformedConnectionStringsNeverShowThePassword(conninfo: String) {
        do {
            _ = try Connection(conninfo)
            Issue.record("expected a connection failure for \(conninfo)")
        } catch {
            #expect(error.kind == .connection)
            for secret in ["s3cretPW", "s3cret%PW", "s3cret%50W", "s3cretPW%zz", "s3cretP"] {
                #expect(!error.description.contains(secret), "\(conninfo) → \(error.description)")
            }
        }
    }

    @Test func redactsPasswordsInConninfoAndURIs() {
        #expect(Connection.redact("host=db password=hunter2 user=me") == "host=db password=*** user=me")
        #expect(Connection.redact("postgresql://me:hunter2@db:5432/app") == "postgresql://me:***@db:5432/app")
        #expect(Connection.redact("postgresql://db/app?password=hunter2&sslmode=require") == "postgresql://db/app?password=***&sslmode=require")
        #expect(!Connection.redact("password='a b c' host=x").contains("a b c"))
    }

    @Test func quotesIdentifiers() {
        #expect(Connection.quoteIdentifier("we\"ird") == "\"we\"\"ird\"")
    }

    @Test func cancelStopsARunningStatement() throws {
        let db = try TestDatabase.create("pgc")
        defer { db.drop() }
        let connection = try db.connect()
        let started = Date()
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) { connection.cancel() }
        do {
            try connection.execute("SELECT pg_sleep(10)")
            Issue.record("expected cancellation")
        } catch {
            #expect(error.sqlState == .queryCanceled)
        }
        #expect(Date().timeIntervalSince(started) < 5)
    }
}
