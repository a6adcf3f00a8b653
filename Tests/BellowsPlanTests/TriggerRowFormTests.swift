import Testing
@testable import BellowsPlan

/// The dual-write trigger evaluates `up` and `down` as plpgsql expressions over `NEW` when the
/// rewrite is certain to mean the same, and falls back to a query over the row otherwise.
@Suite struct TriggerRowFormTests {
    let columns: Set<String> = ["email", "full_name", "bio", "status", "Mixed", "time", "lower", "year"]

    @Test(arguments: [
        ("email", #"NEW."email""#),
        (#""email""#, #"NEW."email""#),
        ("upper(btrim(email))", #"upper(btrim(NEW."email"))"#),
        ("split_part(full_name, ' ', 1)", #"split_part(NEW."full_name", ' ', 1)"#),
        ("bio::varchar(2000)", #"NEW."bio"::varchar(2000)"#),
        ("bio::character varying(500)", #"NEW."bio"::character varying(500)"#),
        ("CAST(status AS text)", #"CAST(NEW."status" AS text)"#),
        (#""Mixed" IS NOT DISTINCT FROM 'email'"#, #"NEW."Mixed" IS NOT DISTINCT FROM 'email'"#),
        ("CASE WHEN email IS NULL THEN '' ELSE email END", #"CASE WHEN NEW."email" IS NULL THEN '' ELSE NEW."email" END"#),
        ("coalesce(email, full_name) || E'\\n'", #"coalesce(NEW."email", NEW."full_name") || E'\n'"#),
        ("bio::double precision", #"NEW."bio"::double precision"#),
        ("email LIKE 'a%' AND bio IN ('x', 'y')", #"NEW."email" LIKE 'a%' AND NEW."bio" IN ('x', 'y')"#),
        ("interval '1 day'", "interval '1 day'"),
    ])
    func rewritesColumnReferences(_ expression: String, _ expected: String) {
        #expect(PhaseSQL.overNew(expression, columns: columns) == expected)
    }

    @Test(arguments: [
        "(SELECT max(id) FROM users WHERE users.email = email)",  // a subquery
        "users.email",                                           // a qualified name
        "EXTRACT(year FROM bio)",                                // a field name that is also a column
        "time",                                                  // a column that is also a keyword
        "lower(email) -- comment",                               // a comment
        "email || $1",                                           // a parameter
        "mystery_word",                                          // a word not known to be safe
        "'unterminated",                                         // an unterminated string
        "email; DROP TABLE users",                               // a statement separator
        "bio::lower",                                            // a column name in a type's place
        "lower('x')",                                            // a column name as a function name
    ])
    func keepsTheQueryFormWhenUnsure(_ expression: String) {
        #expect(PhaseSQL.overNew(expression, columns: columns) == nil)
    }
}
