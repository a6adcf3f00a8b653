import Testing
@testable import BellowsSQL

@Suite struct StatementSplitterTests {
    @Test func splitsOnTopLevelSemicolons() {
        let statements = StatementSplitter.split("SELECT 1; SELECT 2;\n\nSELECT 3")
        #expect(statements.map(\.text) == ["SELECT 1", "SELECT 2", "SELECT 3"])
        #expect(statements[2].terminator == nil)
        #expect(statements[1].line == 1 && statements[1].column == 11)
        #expect(statements[2].line == 3 && statements[2].column == 1)
    }

    @Test func ignoresSemicolonsInStringsCommentsAndDollarQuotes() {
        let sql = """
        SELECT ';', E'\\';', "a;b" /* ; */ -- ;
        ;
        CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;
        DO $$ BEGIN PERFORM 1; END $$;
        """
        let statements = StatementSplitter.split(sql)
        #expect(statements.count == 3)
        #expect(statements[0].text == "SELECT ';', E'\\';', \"a;b\"")
        #expect(statements[1].matches("CREATE", "FUNCTION"))
        #expect(statements[2].matches("DO"))
    }

    @Test func ignoresSemicolonsInParentheses() {
        // Not valid SQL, but a `;` inside parentheses is never a statement end.
        let statements = StatementSplitter.split("SELECT (1; 2); SELECT 3")
        #expect(statements.count == 2)
    }

    @Test func beginAtomicBodiesStayWhole() {
        let sql = """
        CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql
        BEGIN ATOMIC
          SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END;
          SELECT 2;
        END;
        SELECT f(1);
        """
        let statements = StatementSplitter.split(sql)
        #expect(statements.count == 2)
        #expect(statements[0].text.hasSuffix("END"))
        #expect(statements[1].text == "SELECT f(1)")
    }

    @Test func skipsEmptyStatementsAndKeepsLeadingComments() {
        let statements = StatementSplitter.split(";;\n-- note\n;  -- about b\nSELECT b;  ; /* tail */")
        #expect(statements.count == 1)
        #expect(statements[0].text == "SELECT b")
        #expect(statements[0].comments.map(\.text) == ["-- about b"])
        #expect(statements[0].line == 4)
    }

    @Test func textExcludesTrailingComments() {
        let statements = StatementSplitter.split("SELECT 1 -- one\n;")
        #expect(statements[0].text == "SELECT 1")
    }

    @Test func significantTokensAndHelpers() {
        let s = StatementSplitter.split("alter /* c */ TABLE IF EXISTS ONLY public.\"Users\" ADD COLUMN x int")[0]
        #expect(s.matches("ALTER", "TABLE"))
        #expect(!s.matches("ALTER", "INDEX"))
        #expect(s.significantTokens.count == 12)
        #expect(s.indexOf("ADD", "COLUMN") == 8)
        let alter = AlterTable(s)
        #expect(alter?.table.parts == ["public", "Users"])
        #expect(alter?.table.qualified == "public.Users")
    }

    @Test func unterminatedStringSwallowsTheRest() {
        let statements = StatementSplitter.split("SELECT 'abc; SELECT 2;")
        #expect(statements.count == 1)
        #expect(statements[0].significantTokens.last?.isTerminated == false)
    }
}
