"""The Python half of benchmarks/gan_step.sh: the seed DCGAN's training step as `loupe bench gan-step`
(Sources/loupe/GANCommands.swift, Sources/Synthesis): batch 128 of 1x32x32, Adam 2e-4 (beta1 0.5),
real labels 0.9, on Debian's PyTorch 1.13. zero_grad(set_to_none=True), as Loupe's zeroGrad."""
import argparse, json, time
import torch
import torch.nn as nn
import torch.nn.functional as F


def dcgan_init(m):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1, 0.02)
        nn.init.zeros_(m.bias)


def networks():
    """The seed DCGAN at 32x32x1, as Sources/Synthesis/DCGAN.swift builds it (also the reference of the
    parameter-count test in Tests/SynthesisTests)."""
    g = nn.Sequential(nn.ConvTranspose2d(100, 256, 4, 1, 0, bias=False), nn.BatchNorm2d(256), nn.ReLU(True),
                      nn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(True),
                      nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(True),
                      nn.ConvTranspose2d(64, 1, 4, 2, 1, bias=False), nn.Tanh())
    d = nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),
                      nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2, True),
                      nn.Conv2d(128, 256, 4, 2, 1, bias=False), nn.BatchNorm2d(256), nn.LeakyReLU(0.2, True),
                      nn.Conv2d(256, 1, 4, 1, 0, bias=False))
    g.apply(dcgan_init)
    d.apply(dcgan_init)
    return g, d


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--batch", type=int, default=128)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    g, d = networks()
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = torch.rand(a.batch, 1, 32, 32) * 2 - 1
    ones, zeros, smooth = torch.ones(a.batch), torch.zeros(a.batch), torch.full((a.batch,), 0.9)

    def step():
        fake = g(torch.randn(a.batch, 100, 1, 1))
        opt_d.zero_grad(set_to_none=True)
        d_loss = F.binary_cross_entropy_with_logits(d(real).view(-1), smooth) + \
            F.binary_cross_entropy_with_logits(d(fake.detach()).view(-1), zeros)
        d_loss.backward()
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        g_loss = F.binary_cross_entropy_with_logits(d(fake).view(-1), ones)
        g_loss.backward()
        opt_g.step()
        return d_loss.item()

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
