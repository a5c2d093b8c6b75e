"""Mixed precision (train.precision) and the GPU: autocast around the hand-BPTT driver, bf16 training on the CPU,
and the CUDA comparisons with torch.nn's cuDNN layers (skipped where torch sees no GPU)."""
import pytest
import torch

import seqlab.nn as snn
from seqlab.errors import UserError
from seqlab.tasks import lm

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="torch sees no CUDA device")


def test_the_hand_bptt_driver_runs_in_float32_inside_an_autocast_region():
    torch.manual_seed(0)
    layer = snn.LSTM(6, 8, num_layers=2, batch_first=True, backend="bptt")
    x = torch.randn(3, 5, 6, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got, (h, c) = layer(x.to(torch.bfloat16))  # e.g. the output of a Linear inside the region
    assert got.dtype == h.dtype == c.dtype == torch.float32
    assert torch.allclose(got, layer(x.to(torch.bfloat16).float())[0])  # float32 math on the bf16 input
    got.sum().backward()
    assert x.grad is not None and layer.weight_hh_l0.grad.dtype == torch.float32


@pytest.mark.parametrize("backend", ["bptt", "native"])
def test_bf16_training_on_the_cpu(backend, tmp_path):
    cfg = lm.LMConfig()
    path = tmp_path / "rain.txt"
    path.write_text("the rain in spain stays mainly in the plain. " * 40)
    cfg.data.path, cfg.data.level = str(path), "char"
    cfg.model.embed_size, cfg.model.hidden_size, cfg.model.num_layers, cfg.model.backend = 8, 16, 1, backend
    cfg.train.batch_size, cfg.train.bptt, cfg.train.max_steps, cfg.train.eval_every = 4, 16, 40, 20
    cfg.train.precision, cfg.train.progress, cfg.optim.lr = "bf16", False, 1e-2
    result = lm.TASK.train(cfg, tmp_path / "run")
    assert result["loss"] < 2.5  # well under ln(vocabulary) at the start


def test_native_kernel_runs_in_float32_where_onednn_refuses_bf16(monkeypatch):
    """An AVX2-only CPU (AMD EPYC here): oneDNN has no bf16 LSTM; emulated on any CPU by refusing bf16 inputs."""
    from seqlab.nn import recurrent

    monkeypatch.setitem(recurrent._ONEDNN_LOW_PRECISION, "works", True)
    real = recurrent.RecurrentLayer._forward_native

    def refuse_bf16(self, x, state, lengths):
        if x.dtype == torch.bfloat16:
            raise RuntimeError("could not create a primitive descriptor for the LSTM forward propagation primitive")
        return real(self, x, state, lengths)

    monkeypatch.setattr(recurrent.RecurrentLayer, "_forward_native", refuse_bf16)
    torch.manual_seed(0)
    layer, x = snn.LSTM(4, 8, batch_first=True, backend="native"), torch.randn(2, 5, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16), pytest.warns(RuntimeWarning, match="runs in float32"):
        out, (h, c) = layer(x.to(torch.bfloat16))
    assert out.dtype == h.dtype == c.dtype == torch.float32
    assert torch.allclose(out, layer(x.to(torch.bfloat16).float())[0])
    assert not recurrent._ONEDNN_LOW_PRECISION["works"]  # later calls go straight to float32


def test_precision_errors(tmp_path):
    cfg = lm.LMConfig()
    cfg.data.path = str(tmp_path / "x.txt")
    (tmp_path / "x.txt").write_text("abc " * 200)
    cfg.train.precision, cfg.train.device = "fp16", "cpu"
    with pytest.raises(UserError, match="fp16 needs a CUDA device"):
        lm.TASK.train(cfg, tmp_path / "a")
    cfg.train.precision = "half"
    with pytest.raises(UserError, match="train.precision must be one of"):
        lm.TASK.train(cfg, tmp_path / "b")


@cuda
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh"])
def test_hand_bptt_on_the_gpu_equals_cudnn(cell):
    torch.manual_seed(0)
    ref = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn_tanh": torch.nn.RNN}[cell](
        8, 16, num_layers=2, bidirectional=True, batch_first=True).cuda().double()
    ours = {"lstm": snn.LSTM, "gru": snn.GRU, "rnn_tanh": snn.RNN}[cell](
        8, 16, num_layers=2, bidirectional=True, batch_first=True, backend="bptt").cuda().double()
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(4, 7, 8, device="cuda", dtype=torch.float64, requires_grad=True)
    y_ref, _ = ref(x)
    y, _ = ours(x)
    assert torch.allclose(y, y_ref, atol=1e-10)
    g_ref = torch.autograd.grad(y_ref.sum(), [x, *ref.parameters()])
    g = torch.autograd.grad(y.sum(), [x, *ours.parameters()])
    assert all(torch.allclose(a, b, atol=1e-10) for a, b in zip(g, g_ref))


@cuda
def test_fp16_training_on_the_gpu(tmp_path):
    cfg = lm.LMConfig()
    path = tmp_path / "rain.txt"
    path.write_text("the rain in spain stays mainly in the plain. " * 40)
    cfg.data.path, cfg.data.level = str(path), "char"
    cfg.model.embed_size, cfg.model.hidden_size, cfg.model.num_layers = 8, 16, 1
    cfg.train.batch_size, cfg.train.bptt, cfg.train.max_steps, cfg.train.eval_every = 4, 16, 40, 20
    cfg.train.precision, cfg.train.device, cfg.train.progress, cfg.optim.lr = "fp16", "cuda", False, 1e-2
    assert lm.TASK.train(cfg, tmp_path / "run")["loss"] < 2.5
