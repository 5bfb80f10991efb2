"""The PyTorch peer of `npm run bench`: the same LeNet and the same FGSM on the same CPU, so our
figures can be read against a mainstream framework's. Not part of Foolprint itself (PyTorch is
never a dependency); `scripts/bench.ts` runs it when a Python with PyTorch is found.

  python3 scripts/torch-peer.py steps [threads]
      images/s of one FGSM step (forward, input gradient, sign step, clip) at batch 1 and 256, and of
      BIM-10 at batch 256, on the seed's LeNet with random weights (weights do not change timings).
  python3 scripts/torch-peer.py sweep MODEL_DIR MNIST_DIR EPS [threads]
      the whole-process peer of `foolprint sweep --method fgsm --eps EPS`: load a TF.js Layers model
      folder (model.json + weight shards) and the MNIST test set (t10k-*-ubyte[.gz]), FGSM every image,
      score float and 8-bit accuracy; prints one JSON line. Time the process from outside.
  python3 scripts/torch-peer.py onnx-export OUT_DIR
      torchvision's ResNet-18 and MobileNetV2 (seeded random weights, 224x224) as OUT_DIR/<name>.onnx,
      opset 13, for scripts/bench-onnx.ts to load with Foolprint's ONNX import.
  python3 scripts/torch-peer.py onnx-step NAME BATCH STEPS [threads]
      seconds per image of one bare BIM step (forward, input gradient, sign step, clip to the ε-ball
      and [0,1]) on torchvision's NAME (resnet18, mobilenet_v2) run natively; prints one JSON line.
  python3 scripts/torch-peer.py train [threads]
      training examples/s of the seed's loop (Adam, batch 64, LeNet with its dropouts, NLL loss):
      plain, and Madry et al.'s adversarial training with PGD-7 at eps 0.3 (random start, step 2.5eps/7)
      inside; random digits (timings do not depend on the pixels). The peer of scripts/bench-training.ts.
"""
import gzip
import json
import os
import resource
import struct
import sys
import time

started = time.perf_counter()
import torch  # noqa: E402  (timed: importing is part of the whole-process figure)
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

imported = time.perf_counter()


def set_threads(argv, index):
    torch.set_num_threads(int(argv[index]) if len(argv) > index else 2)


# ---- steps: the seed's LeNet (the PyTorch FGSM tutorial's model), random weights -------------------

class SeedLeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        x = F.relu(self.fc1(x.flatten(1)))
        return F.log_softmax(self.fc2(x), dim=1)


def steps(argv):
    set_threads(argv, 2)
    model = SeedLeNet().eval()

    def fgsm_step(x, y, eps):
        x = x.clone().requires_grad_(True)
        loss = F.nll_loss(model(x), y)
        model.zero_grad()
        loss.backward()
        return torch.clamp(x + eps * x.grad.sign(), 0, 1).detach()

    def rate(batch, images, iterations=1):
        x = torch.rand(batch, 1, 28, 28)
        y = torch.randint(0, 10, (batch,))
        fgsm_step(x, y, 0.1)  # warm-up
        start = time.perf_counter()
        done = 0
        while done < images:
            adv = x
            for _ in range(iterations):
                adv = fgsm_step(adv, y, 0.01)
            done += batch
        return done / (time.perf_counter() - start)

    print(f"torch {torch.__version__} threads {torch.get_num_threads()}")
    print(f"fgsm batch1   {rate(1, 2000):9.0f} img/s")
    print(f"fgsm batch256 {rate(256, 20480):9.0f} img/s")
    print(f"bim10 batch256 {rate(256, 5120, 10):9.0f} img/s")


# ---- sweep: a TF.js Layers model folder and the MNIST test set --------------------------------------

def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise SystemExit(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def find_idx(folder, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    raise SystemExit(f"{folder}: no {stem}[.gz] (the MNIST test set's IDX files)")


class LayersModel(nn.Module):
    """The layer kinds of the built-in LeNet, read from a TF.js Layers model.json, NHWC in and out."""

    def __init__(self, folder):
        super().__init__()
        with open(os.path.join(folder, "model.json")) as f:
            spec = json.load(f)
        weights = {}
        for group in spec["weightsManifest"]:
            blob = b"".join(open(os.path.join(folder, p), "rb").read() for p in group["paths"])
            offset = 0
            for w in group["weights"]:
                if w["dtype"] != "float32":
                    raise SystemExit(f"weight {w['name']}: dtype {w['dtype']} is not handled here")
                count = 1
                for d in w["shape"]:
                    count *= d
                weights[w["name"]] = torch.frombuffer(bytearray(blob[offset:offset + 4 * count]), dtype=torch.float32).reshape(w["shape"])
                offset += 4 * count
        self.steps = []
        for layer in spec["modelTopology"]["config"]["layers"]:
            kind, config = layer["class_name"], layer["config"]
            name = config["name"]
            if kind == "Conv2D":
                if config["padding"] != "valid" or config["dilation_rate"] != [1, 1]:
                    raise SystemExit(f"{name}: only valid, undilated convolutions are handled here")
                kernel = weights[f"{name}/kernel"].permute(3, 2, 0, 1).contiguous()  # HWIO -> OIHW
                self.steps.append(("conv", kernel, weights.get(f"{name}/bias"), tuple(config["strides"]), config["activation"]))
            elif kind == "MaxPooling2D":
                self.steps.append(("pool", tuple(config["pool_size"]), tuple(config["strides"] or config["pool_size"])))
            elif kind == "ReLU":
                self.steps.append(("relu",))
            elif kind == "Dense":
                self.steps.append(("dense", weights[f"{name}/kernel"].t().contiguous(), weights.get(f"{name}/bias"), config["activation"]))
            elif kind == "Flatten":
                self.steps.append(("flatten",))
            elif kind != "Dropout":
                raise SystemExit(f"layer {name}: {kind} is not handled by this peer")

    @staticmethod
    def activate(x, activation):
        if activation == "relu":
            return F.relu(x)
        if activation != "linear":
            raise SystemExit(f"activation {activation} is not handled by this peer")
        return x

    def forward(self, x):  # x: N,H,W,C
        x = x.permute(0, 3, 1, 2)
        for step in self.steps:
            if step[0] == "conv":
                x = self.activate(F.conv2d(x, step[1], step[2], stride=step[3]), step[4])
            elif step[0] == "pool":
                x = F.max_pool2d(x, step[1], step[2])
            elif step[0] == "relu":
                x = F.relu(x)
            elif step[0] == "flatten":
                x = x.permute(0, 2, 3, 1).flatten(1)  # TF.js flattens H,W,C
            else:
                x = self.activate(F.linear(x, step[1], step[2]), step[3])
        return x


def sweep(argv):
    if len(argv) < 5:
        raise SystemExit("usage: torch-peer.py sweep MODEL_DIR MNIST_DIR EPS [threads]")
    model_dir, data_dir, eps = argv[2], argv[3], float(argv[4])
    set_threads(argv, 5)
    model = LayersModel(model_dir)
    images = read_idx(find_idx(data_dir, "t10k-images-idx3-ubyte")).float().div_(255).unsqueeze(-1)
    labels = read_idx(find_idx(data_dir, "t10k-labels-idx1-ubyte")).long()
    loaded = time.perf_counter()
    # What `foolprint sweep` reports per ε: clean, float and 8-bit accuracy after the attack.
    correct = {"clean": 0, "float": 0, "quantized": 0}
    batch = 256
    for start in range(0, len(labels), batch):
        x = images[start:start + batch].clone().requires_grad_(True)
        y = labels[start:start + batch]
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        (grad,) = torch.autograd.grad(loss, x)
        with torch.no_grad():
            adv = torch.clamp(x + eps * grad.sign(), 0, 1)
            both = model(torch.cat([adv, torch.round(adv * 255) / 255]))
            n = len(y)
            correct["clean"] += int((logits.argmax(1) == y).sum())
            correct["float"] += int((both[:n].argmax(1) == y).sum())
            correct["quantized"] += int((both[n:].argmax(1) == y).sum())
    done = time.perf_counter()
    count = len(labels)
    print(json.dumps({
        "torch": torch.__version__, "threads": torch.get_num_threads(), "count": count, "epsilon": eps,
        "clean": correct["clean"] / count, "accuracy": correct["float"] / count, "accuracy8bit": correct["quantized"] / count,
        "peakRssKb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "secondsImport": imported - started, "secondsLoad": loaded - imported, "secondsAttack": done - loaded,
    }))


# ---- onnx: torchvision models, exported for Foolprint and timed natively ---------------------------

ONNX_MODELS = {"resnet18": 4, "mobilenet_v2": 5}  # name -> seed


def torchvision_model(name):
    import torchvision
    torch.manual_seed(ONNX_MODELS[name])
    return getattr(torchvision.models, name)().eval()


def onnx_export(argv):
    out = argv[2]
    os.makedirs(out, exist_ok=True)
    for name in ONNX_MODELS:
        torch.onnx.export(torchvision_model(name), torch.zeros(1, 3, 224, 224), os.path.join(out, f"{name}.onnx"),
                          opset_version=13, input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})


def onnx_step(argv):
    name, batch, steps = argv[2], int(argv[3]), int(argv[4])
    set_threads(argv, 5)
    model = torchvision_model(name)
    for p in model.parameters():
        p.requires_grad_(False)  # ∇x only, as Foolprint's attacks take it
    x0 = torch.rand(batch, 3, 224, 224)
    y = torch.randint(0, 1000, (batch,))

    def step(x):
        x = x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(F.cross_entropy(model(x), y), x)
        with torch.no_grad():
            return torch.min(torch.max(x + grad.sign() / 255, x0 - 8 / 255), x0 + 8 / 255).clamp(0, 1)

    adv = step(x0)  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        adv = step(adv)
    seconds = (time.perf_counter() - start) / steps / batch
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "model": name, "batch": batch, "secondsPerImage": seconds}))


# ---- train: the seed's training loop, plain and with PGD-7 inside ----------------------------------
class SeedLeNetDropout(SeedLeNet):
    def __init__(self):
        super().__init__()
        self.conv2_drop = nn.Dropout2d()

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.dropout(x, training=self.training)
        return F.log_softmax(self.fc2(x), dim=1)


def train(argv):
    set_threads(argv, 2)
    torch.manual_seed(0)
    model = SeedLeNetDropout()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.002)
    count, batch = 1024, 64
    images = torch.rand(count, 1, 28, 28)
    labels = torch.randint(0, 10, (count,))

    def pgd(x, y, eps, steps):
        model.eval()
        adv = torch.clamp(x + torch.empty_like(x).uniform_(-eps, eps), 0, 1)
        for _ in range(steps):
            adv.requires_grad_(True)
            loss = F.nll_loss(model(adv), y)
            grad, = torch.autograd.grad(loss, adv)
            adv = torch.min(torch.max(adv.detach() + 2.5 * eps / steps * grad.sign(), x - eps), x + eps).clamp(0, 1)
        model.train()
        return adv.detach()

    def rate(steps):
        model.train()
        start = time.perf_counter()
        for i in range(0, count, batch):
            x, y = images[i:i + batch], labels[i:i + batch]
            if steps:
                x = pgd(x, y, 0.3, steps)
            optimizer.zero_grad()
            F.nll_loss(model(x), y).backward()
            optimizer.step()
        return count / (time.perf_counter() - start)

    rate(0)  # warm-up
    print(f"torch {torch.__version__} threads {torch.get_num_threads()}")
    print(f"train plain {rate(0):9.0f} examples/s")
    print(f"train pgd7  {rate(7):9.0f} examples/s")


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "steps":
        steps(sys.argv)
    elif mode == "sweep":
        sweep(sys.argv)
    elif mode == "onnx-export":
        onnx_export(sys.argv)
    elif mode == "onnx-step":
        onnx_step(sys.argv)
    elif mode == "train":
        train(sys.argv)
    else:
        raise SystemExit(__doc__)
