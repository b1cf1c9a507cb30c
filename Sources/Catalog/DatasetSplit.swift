import Crypto
import Foundation

/// Train / validation / test by product, stable forever: the first 8 bytes of SHA-256(external id)
/// modulo 100 decide (80 / 10 / 10). Adding products never moves an existing one, and every photo of a
/// product lands in the same split, so the held-out set never leaks into training.
public enum DatasetSplit: String, Codable, Sendable, CaseIterable {
    case train, validation, test

    public static func of(externalID: String) -> DatasetSplit {
        let digest = Array(SHA256.hash(data: Data(externalID.utf8)))
        let value = digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        switch value % 100 {
        case 0 ..< 80: return .train
        case 80 ..< 90: return .validation
        default: return .test
        }
    }
}
