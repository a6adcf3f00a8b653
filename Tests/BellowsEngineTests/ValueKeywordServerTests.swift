import BellowsSQL
import BellowsTestSupport
import Foundation
import PGClient
import Testing
@testable import BellowsPlan

/// `plan-keyword-column` must know every word the connected server reads as a value rather
/// than a column (hostile-d 26: PostgreSQL 16 added `SYSTEM_USER`). Asked of the server itself:
/// a table with one column named after each of its keywords (`pg_get_keywords()`), each holding
/// its own name; every keyword is then read unquoted as an `up` is evaluated
/// (`SELECT (word)::text FROM …`). A word that runs and does not give the column's value is
/// read as something else, and must be in the rule's list.
@Suite(needsDatabase)
struct ValueKeywordServerTests {
    @Test func everyWordTheServerReadsAsAValueIsInTheRulesList() throws {
        let fixture = try EngineFixture("valuewords")
        defer { fixture.close() }
        let words = try fixture.sql.query("SELECT word FROM pg_get_keywords() ORDER BY word").map { try $0.string("word") }
        #expect(words.count > 400)
        let columns = words.map { "\(SQLQuote.identifier($0)) text DEFAULT \(SQLQuote.literal("column " + $0))" }
        try fixture.exec("CREATE TABLE kw (bellows_id int, \(columns.joined(separator: ", "))); INSERT INTO kw (bellows_id) VALUES (1);")
        var readAsValue: Set<String> = []
        for word in words {
            // A syntax error, or a word that is no value at all, cannot change a plan's values silently.
            guard let row = try? fixture.sql.query("SELECT (\(word))::text AS v FROM kw").first else { continue }
            if try row.optionalString("v") != "column " + word { readAsValue.insert(word.uppercased()) }
        }
        let listed = TransitionCompiler.valueKeywords
        #expect(readAsValue.subtracting(listed).isEmpty, "read as values but not in plan-keyword-column: \(readAsValue.subtracting(listed).sorted())")
        // SYSTEM_USER is a function from PostgreSQL 16 on (a plain column name on 15, quoted or not).
        let expectedHere = fixture.sql.serverVersion >= 160_000 ? listed : listed.subtracting(["SYSTEM_USER"])
        #expect(expectedHere.subtracting(readAsValue).isEmpty, "listed but read as the column: \(expectedHere.subtracting(readAsValue).sorted())")
        #expect(readAsValue.contains("SYSTEM_USER") == (fixture.sql.serverVersion >= 160_000))
    }
}
