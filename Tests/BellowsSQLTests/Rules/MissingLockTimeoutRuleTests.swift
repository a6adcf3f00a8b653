import Testing
@testable import BellowsSQL

@Suite struct MissingLockTimeoutRuleTests {
    let id = MissingLockTimeoutRule.id

    @Test func flagsTheFirstLockingStatementOnly() {
        let sql = "SELECT 1;\nALTER TABLE users ADD COLUMN x int;\nALTER TABLE users ADD COLUMN y int;"
        let findings = lint(sql, only: id)
        #expect(positions(findings) == ["2:1"])
        #expect(findings[0].severity == .warning)
        #expect(findings[0].message.contains("lock_timeout"))
    }

    @Test func setLockTimeoutBeforeIsFine() {
        for set in ["SET lock_timeout = '2s';", "SET LOCAL lock_timeout TO '5s';", "set session lock_timeout = 2000;",
                    "SELECT set_config('lock_timeout', '2s', false);"] {
            #expect(lint("\(set)\nALTER TABLE users ADD COLUMN x int;", only: id).isEmpty, "\(set)")
        }
    }

    @Test func zeroOrResetDoesNotCount() {
        #expect(positions(lint("SET lock_timeout = 0;\nALTER TABLE users ADD COLUMN x int;", only: id)) == ["2:1"])
        #expect(positions(lint("SET lock_timeout = '2s';\nRESET lock_timeout;\nDROP TABLE old;", only: id)) == ["3:1"])
    }

    @Test func setAfterTheDDLIsTooLate() {
        #expect(positions(lint("CREATE INDEX i ON users (x);\nSET lock_timeout = '2s';", only: id)) == ["1:1"])
    }

    @Test func setLocalOutsideATransactionHasNoEffect() {
        let sql = "-- bellows:no-transaction\nSET LOCAL lock_timeout = '2s';\nCREATE TRIGGER t BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION f();"
        #expect(positions(lint(sql, only: id)) == ["3:1"])
    }

    @Test func newTablesAndConcurrentIndexesAreFine() {
        let sql = "CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN b int;\nCREATE INDEX CONCURRENTLY i ON users (x);"
        #expect(lint(sql, only: id).isEmpty)
    }
}

extension MissingLockTimeoutRuleTests {
    @Test func silentWhenTheRunnerSetsLockTimeout() {
        #expect(lint("ALTER TABLE users ADD COLUMN x int;", only: id, context: LintContext(runnerSetsLockTimeout: true)).isEmpty)
    }
}
