import Foundation
import Testing
@testable import Torch

/// Checkpoints and TorchScript against Python PyTorch 1.13 (Debian's python3-torch).
@Suite(.serialized) struct InteropTests {
    struct Config: Codable, Equatable { var width = 8; var heads = 2; var name = "tiny" }

    func tinyModel(seed: UInt64 = 5) throws -> ParameterStore {
        LibTorch.manualSeed(seed)
        let store = ParameterStore()
        _ = try Conv2d(store.root / "encoder" / "blocks" / 0 / "conv", inChannels: 3, outChannels: 4, kernelSize: 3)
        _ = try BatchNorm(store.root / "encoder" / "blocks" / 0 / "bn", features: 4)
        _ = try MultiheadAttention(store.root / "decoder" / "attn", embedDim: 8, heads: 2)
        _ = try Embedding(store.root / "decoder" / "tokens", count: 5, dimension: 8)
        _ = try store.root.buffer("steps", Tensor([Int64(1), 2, 3]))
        return store
    }

    @Test func swiftCheckpointLoadsInPythonWithEqualTensors() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try tinyModel()
        let file = directory.appendingPathComponent("model.pt")
        try Checkpoint.save(store, config: Config(), to: file)
        #expect(try Checkpoint.loadConfig(Config.self, for: file) == Config())
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("model.json").path))

        // Python prints name, dtype, shape and the sum of squares of every tensor it reads.
        let report = try runPython("""
            import sys, torch
            sd = torch.load(sys.argv[1])
            for k, v in sd.items():
                print(k, str(v.dtype).replace('torch.', ''), list(v.shape), repr(float((v.double() ** 2).sum())))
            """, [file.path])
        let lines = report.split(separator: "\n").map(String.init)
        #expect(lines.count == store.namedTensors.count)
        for (line, (name, tensor)) in zip(lines, store.namedTensors) {
            let parts = line.split(separator: " ", maxSplits: 2).map(String.init)
            #expect(parts[0] == name)
            #expect(parts[1] == tensor.dtype.description)
            let python = Double(line.split(separator: " ").last!)!
            let swift = try tensor.to(.float64).square().sum().item()
            #expect(Swift.abs(python - swift) <= 1e-9 * Swift.max(1, swift), "\(name): \(python) vs \(swift)")
        }
        // And element-for-element, Python re-saves what it read in its own format; Swift compares.
        let resaved = directory.appendingPathComponent("resaved.pt")
        try runPython("import sys, torch; torch.save(torch.load(sys.argv[1]), sys.argv[2])", [file.path, resaved.path])
        let back = try Checkpoint.load(from: resaved)
        #expect(back.count == store.namedTensors.count)
        for ((n1, t1), (n2, t2)) in zip(back, store.namedTensors) {
            #expect(n1 == n2)
            #expect(try t1.eq(t2).all().item() == 1)
        }
    }

    @Test(arguments: ["zip", "legacy"])
    func pythonStateDictLoadsInSwift(format: String) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("python.pt")
        let expected = directory.appendingPathComponent("expected.txt")
        // A real nn.Module's state_dict (an OrderedDict with _metadata), a non-contiguous view that
        // shares storage with its base, half precision, and ints.
        try runPython("""
            import sys, torch
            torch.manual_seed(0)
            net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Linear(4, 2))
            sd = net.state_dict()
            base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
            sd['view.t'] = base.t()
            sd['view.row'] = base[1]
            sd['half'] = torch.tensor([0.5, -2.0], dtype=torch.float16)
            sd['ids'] = torch.tensor([[1, -2], [3, 4]], dtype=torch.int64)
            torch.save(sd, sys.argv[1], _use_new_zipfile_serialization=(sys.argv[3] == 'zip'))
            with open(sys.argv[2], 'w') as f:
                for k, v in sd.items():
                    print(k, ' '.join(repr(float(x)) for x in v.double().flatten().tolist()), file=f)
            """, [file.path, expected.path, format])
        let loaded = try Checkpoint.load(from: file)
        let lines = try String(contentsOf: expected, encoding: .utf8).split(separator: "\n")
        #expect(loaded.count == lines.count)
        for (line, (name, tensor)) in zip(lines, loaded) {
            let parts = line.split(separator: " ")
            #expect(String(parts[0]) == name)
            let values = parts.dropFirst().map { Double($0)! }
            #expect(try tensor.to(.float64).doubles() == values, "\(name)")
        }
        #expect(loaded.first { $0.name == "view.t" }?.tensor.shape == [4, 3])
        #expect(loaded.first { $0.name == "ids" }?.tensor.dtype == .int64)
        #expect(loaded.first { $0.name == "1.num_batches_tracked" }?.tensor.dtype == .int64)
    }

    @Test func loadingIntoAModelChecksNamesAndShapes() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = try tinyModel()
        let file = directory.appendingPathComponent("m.pt")
        try source.save(to: file)
        let target = try tinyModel(seed: 99)
        #expect(try source.namedTensors[0].tensor.ne(target.namedTensors[0].tensor).any().item() == 1)
        try target.load(from: file)
        for ((_, a), (_, b)) in zip(source.namedTensors, target.namedTensors) {
            #expect(try a.eq(b).all().item() == 1)
        }
        let other = ParameterStore()
        _ = try Linear(other.root / "head", inFeatures: 2, outFeatures: 2)
        #expect(throws: TorchError.self) { try other.load(from: file) }
        let wrongShape = ParameterStore()
        _ = try Conv2d(wrongShape.root / "encoder" / "blocks" / 0 / "conv", inChannels: 3, outChannels: 5, kernelSize: 3)
        do {
            try wrongShape.load(from: file, strict: false)
            Issue.record("a shape mismatch loaded")
        } catch let error as TorchError {
            #expect(error.message.contains("size mismatch for encoder.blocks.0.conv.weight"))
        }
    }

    @Test func unreadableCheckpointsThrow() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(throws: TorchError.self) { try Checkpoint.load(from: directory.appendingPathComponent("missing.pt")) }
        let garbage = directory.appendingPathComponent("garbage.pt")
        try Data("definitely not a checkpoint".utf8).write(to: garbage)
        #expect(throws: TorchError.self) { try Checkpoint.load(from: garbage) }
        // A truncated zip checkpoint.
        let good = directory.appendingPathComponent("good.pt")
        try tinyModel().save(to: good)
        let bytes = try Data(contentsOf: good)
        let cut = directory.appendingPathComponent("cut.pt")
        try bytes.prefix(bytes.count / 2).write(to: cut)
        #expect(throws: TorchError.self) { try Checkpoint.load(from: cut) }
        #expect(throws: TorchError.self) { try ScriptModule(contentsOf: garbage) }
    }

    @Test func torchScriptModuleRunsLikePython() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("scripted.pt")
        let output = try runPython("""
            import sys, torch
            torch.manual_seed(0)
            net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
            scripted = torch.jit.script(net.eval())
            scripted.save(sys.argv[1])
            x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4) / 50
            print(' '.join(repr(v) for v in scripted(x).flatten().tolist()))
            """, [file.path])
        let expected = output.split(separator: " ").map { Float($0.trimmingCharacters(in: .whitespacesAndNewlines))! }
        let module = try ScriptModule(contentsOf: file)
        let x = try Tensor.arange(0, 96, dtype: .float32).reshape(2, 3, 4, 4) / 50
        let y = try module.forward(x)
        #expect(y.shape == [2, 2])
        expectClose(try y.floats(), expected, tolerance: 1e-6)
        #expect(throws: TorchError.self) { try module.forward(Tensor.zeros([2, 5, 4, 4])) }
    }

    @Test func multiheadAttentionMatchesPyTorch() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        LibTorch.manualSeed(21)
        let store = ParameterStore()
        store.eval()
        let attention = try MultiheadAttention(store.root, embedDim: 8, heads: 2)
        let x = try Tensor.randn([2, 4, 8])
        let padding = try Tensor([false, false, false, false, false, false, true, true], shape: [2, 4])
        let (y, _) = try attention(query: x, key: x, value: x, attentionMask: Functional.causalMask(4), keyPaddingMask: padding)
        let weights = directory.appendingPathComponent("mha.pt"), input = directory.appendingPathComponent("x.pt")
        try store.save(to: weights)
        try Checkpoint.save([("x", x)], to: input)
        let output = try runPython("""
            import sys, torch
            mha = torch.nn.MultiheadAttention(8, 2, batch_first=True)
            mha.load_state_dict(torch.load(sys.argv[1]))
            mha.eval()
            x = torch.load(sys.argv[2])['x']
            causal = torch.ones(4, 4, dtype=torch.bool).triu(1)
            pad = torch.tensor([[False] * 4, [False, False, True, True]])
            y, _ = mha(x, x, x, attn_mask=causal, key_padding_mask=pad)
            print(' '.join(repr(v) for v in y.flatten().tolist()))
            """, [weights.path, input.path])
        let expected = output.split(separator: " ").map { Float($0.trimmingCharacters(in: .whitespacesAndNewlines))! }
        expectClose(try y.floats(), expected, tolerance: 1e-5)
    }
}
