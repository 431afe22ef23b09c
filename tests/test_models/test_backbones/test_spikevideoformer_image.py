# Copyright (c) mmsvf contributors. All rights reserved.
"""SpikeVideoFormerImage: an image repeated over the SNN time steps."""
import pytest
import torch

from mmsvf.models import SpikeVideoFormer, SpikeVideoFormerImage

TINY = dict(embed_dims=[16, 32, 64, 64], depths=(1, 1), num_heads=2,
            out_indices=(1, 3))


def images(B=2, H=32, W=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, 3, H, W, generator=g) * 2


def pair(time_steps):
    torch.manual_seed(0)
    image_model = SpikeVideoFormerImage(time_steps=time_steps, **TINY)
    video_model = SpikeVideoFormer(**TINY)
    video_model.load_state_dict(image_model.state_dict(), strict=True)
    return image_model.eval(), video_model.eval()


def test_same_state_dict_as_the_video_backbone():
    image_model, video_model = pair(4)
    assert list(image_model.state_dict()) == list(video_model.state_dict())
    assert 'time_steps=4' in repr(image_model)


@pytest.mark.parametrize('time_steps', [1, 4])
def test_image_is_a_clip_of_equal_frames(time_steps):
    image_model, video_model = pair(time_steps)
    x = images()
    with torch.no_grad():
        from_image = image_model(x)
        from_one_frame = image_model(x.unsqueeze(2))
        clip = x.unsqueeze(2).expand(-1, -1, time_steps, -1, -1)
        from_repeated = image_model(clip.contiguous())
        from_video = video_model(clip.contiguous())
    assert len(from_image) == 2
    for a, b, c, d in zip(from_image, from_one_frame, from_repeated,
                          from_video):
        assert a.shape[:3] == (2, a.shape[1], time_steps)  # (B, C, T, h, w)
        assert torch.equal(a, b) and torch.equal(a, c) and torch.equal(a, d)
    if time_steps > 1:  # membranes carry over: the steps are not copies
        stage2 = from_image[0]
        assert not torch.equal(stage2[:, :, 0], stage2[:, :, -1])


def test_bad_inputs():
    for bad in (0, 2.5, True, '4'):
        with pytest.raises(ValueError, match=rf'^SpikeVideoFormerImage: '
                           rf'time_steps={bad!r} is invalid; expected an '
                           'integer >= 1'):
            SpikeVideoFormerImage(time_steps=bad, **TINY)
    image_model, _ = pair(4)
    with pytest.raises(ValueError, match=r'got \(2, 3, 3, 32, 32\)'):
        image_model(torch.zeros(2, 3, 3, 32, 32))
