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

/// The numbers of a project's migration files, derived once from their names (see
/// ``LintContext/allMigrationFileNames``) for the numbering rules, so that linting each of
/// n files does not parse all n names again.
struct MigrationNumbering: Sendable, Hashable {
    /// Number → the file names that carry it, in the order of the list.
    private var namesByNumber: [Int: [String]] = [:]
    /// Every number used, ascending, each once.
    private var sortedNumbers: [Int] = []

    init(_ fileNames: [String]) {
        for name in fileNames {
            guard let number = MigrationNaming.number(name) else { continue }
            namesByNumber[number, default: []].append(name)
        }
        sortedNumbers = namesByNumber.keys.sorted()
    }

    /// The file names numbered `number`, in the order of the list.
    func names(numbered number: Int) -> [String] {
        namesByNumber[number] ?? []
    }

    /// The largest number used below `number`, if any.
    func number(before number: Int) -> Int? {
        var low = 0
        var high = sortedNumbers.count
        while low < high {  // the first index whose number is >= `number`
            let middle = (low + high) / 2
            if sortedNumbers[middle] < number { low = middle + 1 } else { high = middle }
        }
        return low > 0 ? sortedNumbers[low - 1] : nil
    }
}
