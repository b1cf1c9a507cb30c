import Foundation
import Testing
@testable import Torch

@Suite struct SafeTensorsTests {
    /// MiniLM's safetensors file read in Swift equals the `safetensors` package's reading of it: every
    /// name, shape and dtype, and each tensor's sum and first values.
    @Test func miniLMMatchesTheReferenceReader() throws {
        let file = miniLM.appendingPathComponent("model.safetensors")
        let tensors = try SafeTensors.load(from: file)
        struct Reference: Decodable { let shape: [Int]; let dtype: String; let sum: Double; let first: [Double] }
        let reference = try JSONDecoder().decode([String: Reference].self, from: try pyref("""
            import json, sys
            from safetensors.numpy import load_file
            out = {}
            for k, v in load_file(sys.argv[1]).items():
                out[k] = {"shape": list(v.shape), "dtype": str(v.dtype), "sum": float(v.astype("float64").sum()),
                          "first": [float(x) for x in v.reshape(-1)[:3]]}
            print(json.dumps(out))
            """, arguments: [file.path]))
        #expect(tensors.count == reference.count && tensors.count == 104)
        for (name, tensor) in tensors {
            guard let expected = reference[name] else { Issue.record("\(name) is not in the file"); continue }
            #expect(tensor.shape == expected.shape, "\(name)")
            #expect(tensor.dtype == (expected.dtype == "int64" ? .int64 : .float32), "\(name)")
            let sum = try tensor.to(.float64).sum().item()
            #expect(abs(sum - expected.sum) <= 1e-9 * max(1, abs(expected.sum)), "\(name): \(sum) vs \(expected.sum)")
            let first = try tensor.reshape(-1).slice(dim: 0, 0 ..< 3).to(.float64).doubles()
            #expect(first == expected.first, "\(name)")
        }
    }

    /// Broken files are errors that name the problem, before any tensor is made.
    @Test func brokenFilesAreClearErrors() throws {
        func file(_ header: String, data: Int) -> Data {
            var out = Data()
            withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { out.append(contentsOf: $0) }
            out.append(Data(header.utf8))
            out.append(Data(repeating: 0, count: data))
            return out
        }
        let good = file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"format":"pt"}}"#, data: 8)
        #expect(try SafeTensors.header(good).entries == [SafeTensors.Entry(name: "a", dtype: .float32, shape: [2], range: 0 ..< 8)])
        let cases: [(Data, String)] = [
            (Data([1, 2, 3]), "shorter than"),
            (file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: 4), "outside the data"),
            (file(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: 8), "8 bytes for shape [3]"),
            (file(#"{"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}"#, data: 8), "unsupported dtype C64"),
            (file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: 8), "overlap"),
            (file("[1, 2]", data: 0), "not a JSON object"),
            (good.prefix(20), "does not fit"),
        ]
        for (data, message) in cases {
            #expect { try SafeTensors.header(data) } throws: { "\($0)".contains(message) }
        }
    }
}
