"""The Python half of benchmarks/train_step.sh: the same network, batch and optimizer as
`loupe bench train-step` (Sources/loupe/Bench.swift), on Debian's PyTorch 1.13."""
import argparse, json, time
import torch
import torch.nn as nn
import torch.nn.functional as F


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32)
        self.c2, self.b2 = nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64)
        self.c3, self.b3 = nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128)
        self.fc = nn.Linear(128, 10)

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.b1(self.c1(x))), 2)
        h = F.max_pool2d(F.relu(self.b2(self.c2(h))), 2)
        h = F.relu(self.b3(self.c3(h)))
        return self.fc(F.adaptive_avg_pool2d(h, 1).flatten(1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--set-to-none", action="store_true",
                   help="zero_grad(set_to_none=True), PyTorch 2's default and what Loupe's zeroGrad does")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = SmallCNN()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.randn(a.batch, 3, 96, 96)
    y = torch.randint(0, 10, (a.batch,))

    def step():
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad(set_to_none=a.set_to_none)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(a.steps):
        loss = step()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    images = a.steps * a.batch
    print(json.dumps({"impl": "python", "threads": torch.get_num_threads(), "steps": a.steps,
                      "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
                      "images_per_s": round(images / seconds, 2), "images_per_cpu_s": round(images / cpu, 2),
                      "loss": round(loss, 4)}))


if __name__ == "__main__":
    main()
