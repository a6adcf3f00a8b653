/// Helpers shared by the file-name and numbering rules.
enum MigrationNaming {
    /// The leading digits of a migration file name (`003_add_x.sql` → 3), if any.
    static func number(_ fileName: String) -> Int? {
        let digits = fileName.prefix { $0.isASCII && $0.isNumber }
        return digits.isEmpty ? nil : Int(digits)
    }

    /// `NNN_snake_case.sql` with at least three digits.
    static func isWellFormed(_ fileName: String) -> Bool {
        guard fileName.hasSuffix(".sql") else { return false }
        let stem = fileName.dropLast(4)
        let digits = stem.prefix { $0.isASCII && $0.isNumber }
        guard digits.count >= 3 else { return false }
        let rest = stem.dropFirst(digits.count)
        guard rest.hasPrefix("_") else { return false }
        let words = rest.dropFirst().split(separator: "_", omittingEmptySubsequences: false)
        return !words.isEmpty && words.allSatisfy { word in
            !word.isEmpty && word.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber) }
        }
    }

    static func stem(_ fileName: String) -> String {
        fileName.hasSuffix(".sql") ? String(fileName.dropLast(4)) : fileName
    }
}
