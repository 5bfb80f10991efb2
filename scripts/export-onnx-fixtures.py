#!/usr/bin/python3
"""Exports the small ONNX fixtures of test/onnx-parity.test.ts with PyTorch, and what PyTorch computes
on them in float64 (outputs, input gradients, FGSM and BIM predictions), so the test needs no torch.

Run with Debian's PyTorch:  /usr/bin/python3 scripts/export-onnx-fixtures.py [out-folder]
(default test/fixtures/onnx). Seeded: the same torch version writes the same files.
  /usr/bin/python3 scripts/export-onnx-fixtures.py --torchvision <folder>
exports torchvision's ResNet-18 and MobileNetV2 (random weights, 224x224) the same way, for
FOOLPRINT_ONNX_BIG=<folder> npx vitest run test/onnx-parity.test.ts.

Models (random weights: parity needs no training):
  lenet      the built-in LeNet's architecture (app/models/lenet.ts), x.view(x.size(0), -1) flatten
             (a Shape/Gather/Unsqueeze/Concat/Reshape chain with a dynamic batch), opset 11
  resnet-bn  a small residual CNN with BatchNorm (kept, not fused), LeakyRelu, a strided 1x1 shortcut,
             GlobalAveragePool, opset 13
  misc-ops   Pad, Slice, Elu, PRelu, HardSigmoid, ReduceMean, GlobalMaxPool, AveragePool counting its
             padding, Squeeze, LogSoftmax, opset 11
  dwsep      a depthwise-separable CNN: ReLU6 (Clip), depthwise and grouped and dilated convolutions,
             MaxPool with ceil_mode, AveragePool without padded cells, Concat, MatMul, a softmax head,
             opset 13
  upsample   ConvTranspose (stride 2 with output_padding and 2 groups, dilated, depthwise with an uneven
             stride) and Resize (nearest by a scale, bilinear to a size with align_corners off, bilinear
             by a scale with align_corners on), opset 13; upsample-11 the same graph at opset 11
  upsample-7 the old Upsample operator (nearest, whole factors, scales as an attribute), opset 7;
             upsample-9 the same graph at opset 9 (scales as an input)
"""
import base64
import io
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, training=self.training)
        self.last_features = x
        return self.fc2(x)

    def head_layer(self):
        return self.fc2


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.shortcut is None else self.shortcut(x)))


class ResNetBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.block1 = Block(8, 8, 1)
        self.block2 = Block(8, 16, 2)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        x = F.leaky_relu(self.bn(self.stem(x)), 0.1)
        x = self.block2(self.block1(x))
        x = F.adaptive_avg_pool2d(x, 1)
        x = torch.flatten(x, 1)
        self.last_features = x
        return self.fc(x)

    def head_layer(self):
        return self.fc


class DepthwiseSeparable(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.pw = nn.Conv2d(8, 16, 1)
        self.bn = nn.BatchNorm2d(16)
        self.dw2 = nn.Conv2d(16, 32, 3, padding=2, dilation=2, groups=16)  # channel multiplier 2
        self.grouped = nn.Conv2d(32, 16, 3, padding=(1, 0), groups=4)
        self.side = nn.Conv2d(16, 8, 1)
        self.head = nn.Linear(24, 6)

    def forward(self, x):
        x = F.relu6(self.stem(x))
        x = F.relu6(self.bn(self.pw(self.dw(x))))
        x = F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True)
        x = torch.tanh(self.dw2(x))
        x = torch.sigmoid(self.grouped(x))
        x = F.avg_pool2d(x, 2, padding=1, count_include_pad=False)
        x = torch.cat([x, self.side(x) * 2.0 - 1.0], dim=1)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        self.last_features = x
        # x @ Wᵀ + b written out, so the export has a MatMul and an Add rather than a Gemm.
        return torch.softmax(x @ self.head.weight.t() + self.head.bias, dim=1)

    def head_layer(self):
        return self.head


class MiscOps(nn.Module):
    """Operators the other fixtures do not use, at opset 11: Pad, Slice, Elu, PRelu, HardSigmoid (opset
    11's hardswish), ReduceMean, GlobalMaxPool, AveragePool counting its padding, Squeeze, LogSoftmax."""
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 6, 3)
        self.prelu = nn.PReLU(6, init=0.2)
        self.conv2 = nn.Conv2d(6, 6, 3, stride=2)
        self.fc = nn.Linear(12, 4)

    def forward(self, x):
        x = F.pad(x, (1, 2, 2, 1), value=0.25)
        x = x[:, :, 1:-1, 2:]
        x = self.prelu(F.elu(self.conv(x) * 3.0))
        x = F.hardswish(F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=True))
        x = self.conv2(x)
        mean = x.mean(dim=(2, 3))
        peak = F.adaptive_max_pool2d(x, 1).squeeze(3).squeeze(2)
        x = torch.cat([mean, peak], dim=1)
        self.last_features = x
        return F.log_softmax(self.fc(x), dim=1)

    def head_layer(self):
        return self.fc


class Upsample(nn.Module):
    """A decoder-like CNN: transposed convolutions and resizes of the kinds PyTorch exports."""
    def __init__(self):
        super().__init__()
        self.down = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.up1 = nn.ConvTranspose2d(8, 8, 3, stride=2, padding=1, output_padding=1, groups=2)
        self.up2 = nn.ConvTranspose2d(8, 6, 3, padding=2, dilation=2)
        self.up3 = nn.ConvTranspose2d(6, 6, (3, 4), stride=(2, 3), padding=(0, 1), groups=6)
        self.conv = nn.Conv2d(6, 8, 3, stride=2)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        x = torch.relu(self.down(x))
        x = torch.tanh(self.up1(x))
        x = F.interpolate(x, scale_factor=2, mode='nearest')
        x = torch.sigmoid(self.up2(x))
        x = F.interpolate(x, size=(10, 9), mode='bilinear', align_corners=False)
        x = torch.relu(self.up3(x))
        x = F.interpolate(x, scale_factor=0.75, mode='bilinear', align_corners=True)
        x = self.conv(x)
        x = torch.cat([F.adaptive_avg_pool2d(x, 1), F.adaptive_max_pool2d(x, 1)], dim=1).flatten(1)
        self.last_features = x
        return self.fc(x)

    def head_layer(self):
        return self.fc


class OldUpsample(nn.Module):
    """Nearest upsampling by whole factors, which PyTorch exports before opset 10 as the Upsample operator
    (interpolation to a fixed size: with a scale_factor its opset 7-8 export fails)."""
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, stride=2)
        self.conv2 = nn.Conv2d(6, 8, 3)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        x = torch.relu(self.conv1(x))  # 4x4
        x = F.interpolate(x, size=(8, 12), mode='nearest')
        x = torch.sigmoid(self.conv2(x))  # 6x10
        x = F.interpolate(x, size=(12, 20), mode='nearest')
        x = F.max_pool2d(x, 2)  # 6x10
        # A whole-map MaxPool: opset 7 has no exported adaptive_max_pool2d.
        x = torch.cat([F.adaptive_avg_pool2d(x, 1), F.max_pool2d(x, (6, 10))], dim=1).flatten(1)
        self.last_features = x
        return self.fc(x)

    def head_layer(self):
        return self.fc


def randomise_batchnorm(model, generator):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=generator) * 0.2)
            m.running_var.copy_(torch.rand(m.num_features, generator=generator) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=generator) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=generator) * 0.2)


def calibrate_head(model, images):
    """Random heads let one bias decide every image. Whitening the head's input features over the
    fixture images (weights / std, bias = -weights . mean) lets the images decide, so predictions and
    FGSM outcomes vary from image to image."""
    head = model.head_layer()
    with torch.no_grad():
        model(images)
        features = model.last_features
        scale = 1 / (features.std(0) + 1e-3)
        head.weight.mul_(scale)
        head.bias.copy_(-(head.weight @ features.mean(0)))


def nchw(x):
    """NHWC → NCHW with standard strides (a one-channel permute counts as contiguous but keeps odd strides,
    which makes the convolutions return channels-last tensors that x.view rejects)."""
    n, h, w, c = x.shape
    return x.permute(0, 3, 1, 2).reshape(-1).view(n, c, h, w)


def b64(array, dtype):
    return base64.b64encode(array.detach().cpu().numpy().astype(dtype).tobytes()).decode('ascii')


def export(name, model, shape, opset, out, probabilities, epsilons, n=8, dynamic_batch=True):
    generator = torch.Generator().manual_seed(7)
    randomise_batchnorm(model, generator)
    model.eval()
    c, h, w = shape
    # Pixels on the 8-bit grid, so float32 and float64 read the same image.
    # Varied images (a smooth random pattern at a random contrast and brightness, plus noise), so the
    # random-weight models do not give every image the same class.
    pattern = F.interpolate(torch.rand(n, c, 4, 4, generator=generator), size=(h, w), mode='bilinear', align_corners=False)
    contrast = torch.rand(n, 1, 1, 1, generator=generator) * 2
    brightness = torch.rand(n, 1, 1, 1, generator=generator)
    noise = torch.randn(n, c, h, w, generator=generator) * 0.15
    values = ((pattern - 0.5) * contrast + brightness + noise).clamp(0, 1).permute(0, 2, 3, 1)
    pixels = (values * 255).round().to(torch.uint8)
    images = pixels.double() / 255  # NHWC, the project's layout
    if hasattr(model, 'head_layer'):
        calibrate_head(model, nchw(images.float()))

    buffer = io.BytesIO()
    torch.onnx.export(model.float(), torch.zeros(1, c, h, w), buffer, opset_version=opset,
                      input_names=['input'], output_names=['output'],
                      dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}} if dynamic_batch else None,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    data = buffer.getvalue()
    with open(os.path.join(out, f'{name}.onnx'), 'wb') as f:
        f.write(data)

    model.double()
    def logits_of(x_nhwc):
        y = model(nchw(x_nhwc))
        # The classifier's reading of a probability output (app/models/classifier.ts).
        return torch.log(y + 1e-12) if probabilities else y

    with torch.no_grad():
        outputs = model(nchw(images))
        labels = logits_of(images).argmax(1)
    x = images.clone().requires_grad_(True)
    loss = F.cross_entropy(logits_of(x), labels, reduction='sum')
    gradient, = torch.autograd.grad(loss, x)
    fgsm = {}
    for eps in epsilons:
        adversarial = (images + eps * gradient.sign()).clamp(0, 1)
        with torch.no_grad():
            fgsm[str(eps)] = logits_of(adversarial).argmax(1).tolist()
    # BIM (Kurakin et al.) as app/attacks/bim.ts runs it by default: α one grey level, min(ε+4, 1.25ε)
    # steps (ε in grey levels, rounded half up), each step projected on the ε-ball and [0,1]; at the
    # two smaller ε, whose few steps keep float32 and float64 on the same side of every sign.
    bim = {}
    for eps in epsilons[:2]:
        levels = eps * 255
        steps = max(1, math.floor(min(levels + 4, 1.25 * levels) + 0.5))
        adversarial = images.clone()
        for _ in range(steps):
            adversarial.requires_grad_(True)
            step_loss = F.cross_entropy(logits_of(adversarial), labels, reduction='sum')
            step_gradient, = torch.autograd.grad(step_loss, adversarial)
            adversarial = adversarial.detach() + step_gradient.sign() / 255
            adversarial = torch.min(torch.max(adversarial, images - eps), images + eps).clamp(0, 1)
        with torch.no_grad():
            bim[str(eps)] = logits_of(adversarial).argmax(1).tolist()
    expected = {
        'producer': f'torch {torch.__version__}, opset {opset}',
        'inputShape': [h, w, c],
        'outputs': 'probabilities' if probabilities else 'logits',
        'pixels': base64.b64encode(pixels.numpy().tobytes()).decode('ascii'),
        'labels': labels.tolist(),
        'expectedOutputs': outputs.tolist(),
        'inputGradient': b64(gradient, '<f4'),
        'fgsm': fgsm,
        'bim': bim,
    }
    with open(os.path.join(out, f'{name}.expected.json'), 'w') as f:
        json.dump(expected, f)
    print(f'{name}: {len(data)} bytes of ONNX, {n} images, predictions {labels.tolist()}, fgsm {fgsm}, bim {bim}')


def main():
    args = sys.argv[1:]
    if args[:1] == ['--torchvision']:
        # The big models (tens of MB, never committed): test/onnx-parity.test.ts reads them from the
        # folder named by FOOLPRINT_ONNX_BIG.
        import torchvision
        out = args[1]
        os.makedirs(out, exist_ok=True)
        torch.manual_seed(4)
        export('resnet18', torchvision.models.resnet18(), (3, 224, 224), 13, out, False, [1 / 255, 4 / 255], n=2)
        torch.manual_seed(5)
        export('mobilenet_v2', torchvision.models.mobilenet_v2(), (3, 224, 224), 13, out, False, [1 / 255, 4 / 255], n=2)
        return
    out = args[0] if args else os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'onnx')
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    export('lenet', LeNet(), (1, 28, 28), 11, out, False, [0.02, 0.05, 0.1])
    torch.manual_seed(1)
    export('resnet-bn', ResNetBN(), (3, 16, 16), 13, out, False, [0.01, 0.03, 0.1])
    torch.manual_seed(2)
    export('dwsep', DepthwiseSeparable(), (3, 18, 18), 13, out, True, [0.01, 0.03, 0.1])
    torch.manual_seed(3)
    export('misc-ops', MiscOps(), (1, 12, 12), 11, out, False, [0.01, 0.03, 0.1])
    torch.manual_seed(6)
    export('upsample', Upsample(), (3, 12, 12), 13, out, False, [0.01, 0.03, 0.1])
    torch.manual_seed(6)
    export('upsample-11', Upsample(), (3, 12, 12), 11, out, False, [0.01, 0.03, 0.1])
    torch.manual_seed(8)
    # Upsample's export needs the input's sizes: a batch of 1 is declared, the graph takes any.
    export('upsample-7', OldUpsample(), (3, 10, 10), 7, out, False, [0.01, 0.03, 0.1], dynamic_batch=False)
    torch.manual_seed(8)
    export('upsample-9', OldUpsample(), (3, 10, 10), 9, out, False, [0.01, 0.03, 0.1], dynamic_batch=False)


if __name__ == '__main__':
    main()
