import BellowsPlan
import Testing

/// The judgement of whether compiled expressions can depend on a session setting (pure).
@Suite struct SettingsIndependenceTests {
    /// A view's tree over `(n::bigint)` as PostgreSQL 15 stores it, shortened; the table's
    /// column names hold an escaped brace and a space.
    static let tree = #"({QUERY :commandType 1 :rtable ({RANGETBLENTRY :alias {ALIAS :aliasname bellows_row :colnames <>} :eref {ALIAS :aliasname bench :colnames ("id" "a\{b\ c")} :rtekind 1 :subquery {QUERY :commandType 1 :jointree {FROMEXPR :fromlist ({RANGETBLREF :rtindex 1}) :quals <>} :targetList ({TARGETENTRY :expr {VAR :varno 1 :varattno 1 :vartype 20} :resno 1}) :limitCount {FUNCEXPR :funcid 481 :funcresulttype 20 :args ({CONST :consttype 23 :constisnull false :constvalue 4 [ 0 0 0 0 0 0 0 0 ]}) :location -1}}}) :targetList ({TARGETENTRY :expr {FUNCEXPR :funcid 481 :funcresulttype 20 :args ({OPEXPR :opno 551 :opfuncid 177 :args ({VAR :varno 3 :varattno 2 :vartype 23} {CONST :consttype 23 :constisnull false :constvalue 4 [ 1 0 0 0 0 0 0 0 ]})})} :resno 1})})"#

    static let builtIn = [SettingsIndependence.FunctionFacts(oid: 481, volatility: "i", typeIO: false),
                          SettingsIndependence.FunctionFacts(oid: 177, volatility: "i", typeIO: false)]

    @Test func scanReadsNodesFunctionsOperatorsAndConstants() {
        let facts = SettingsIndependence.scan(Self.tree)
        #expect(facts.nodes == ["QUERY", "RANGETBLENTRY", "ALIAS", "FROMEXPR", "RANGETBLREF", "TARGETENTRY", "VAR", "FUNCEXPR", "CONST", "OPEXPR"])
        #expect(facts.functions == [481, 177])
        #expect(facts.operators == [551])
        #expect(facts.constantTypes == [23])
        #expect(facts.valueTypes == [20, 23])
    }

    @Test func builtInImmutableFunctionsOverPlainConstantsAreIndependent() {
        #expect(SettingsIndependence.dependence(SettingsIndependence.scan(Self.tree), functions: Self.builtIn, text: "SELECT (n::bigint)::bigint") == nil)
    }

    @Test func eachDependenceIsNamed() {
        let facts = SettingsIndependence.scan(Self.tree)
        func reason(_ facts: SettingsIndependence.NodeFacts, _ functions: [SettingsIndependence.FunctionFacts] = SettingsIndependenceTests.builtIn, text: String = "n") -> String? {
            SettingsIndependence.dependence(facts, functions: functions, text: text)
        }
        #expect(reason(facts, text: #"replace(a, '\', '/')"#)?.contains("standard_conforming_strings") == true)
        #expect(reason(facts, text: "CASE WHEN n = NULL THEN 0 END")?.contains("transform_null_equals") == true)
        #expect(reason(facts, text: "replace(a, U&'!00A0' UESCAPE '!', ' ')")?.contains("standard_conforming_strings") == true)
        var nulled = facts
        nulled.nullConstant = true
        #expect(reason(nulled)?.contains("transform_null_equals") == true)
        #expect(SettingsIndependence.scan("{CONST :consttype 23 :constisnull true :constvalue <>}").nullConstant)
        #expect(!SettingsIndependence.scan("{CONST :consttype 23 :constisnull false :constvalue 4 [ 1 0 0 0 ]}").nullConstant)
        var coerced = facts
        coerced.nodes.insert("COERCEVIAIO")
        #expect(reason(coerced) == "a COERCEVIAIO node")
        var ranged = facts
        ranged.valueTypes.insert(1184)
        #expect(reason(ranged) == "a value of type 1184")
        var dated = facts
        dated.constantTypes.insert(1082)
        #expect(reason(dated) == "a constant of type 1082")
        #expect(reason(facts, [Self.builtIn[0]]) == "function 177 not found")
        #expect(reason(facts, [Self.builtIn[0], .init(oid: 177, volatility: "s", typeIO: false)]) == "function 177 is not immutable")
        #expect(reason(facts, [Self.builtIn[0], .init(oid: 177, volatility: "i", typeIO: true)]) == "function 177 is a type's input or output")
        #expect(reason(facts, [Self.builtIn[0], .init(oid: 177, volatility: "i", typeIO: false, language: "sql")]) == "function 177 is LANGUAGE sql")
        #expect(reason(facts, [Self.builtIn[0], .init(oid: 177, volatility: "i", typeIO: false, name: "timezone")]) == "function timezone reads a setting")
        var user = facts
        user.functions.insert(70_000)
        #expect(reason(user, Self.builtIn + [.init(oid: 70_000, volatility: "i", typeIO: false)]) == "function 70000 is not built in")
    }

    @Test(arguments: [("n = NULL", true), ("NULL = n", true), ("n = ( null )", true), ("n=null", true), ("(NULL)=n", true),
                      ("n IS NULL", false), ("n <> NULL", false), ("nullif(n, 0) = 1", false), ("n = nullable", false), ("f(x => NULL)", false)])
    func equalsNullIsFound(text: String, found: Bool) {
        let facts = SettingsIndependence.scan(Self.tree)
        #expect((SettingsIndependence.dependence(facts, functions: Self.builtIn, text: text) != nil) == found, "\(text)")
    }
}
