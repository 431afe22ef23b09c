# Copyright (c) mmsvf contributors. All rights reserved.
"""Write a tiny synthetic dataset in the MMHPSD layout (for tests and toys).

A small SMPL-format body model (``toy_smpl.npz``, see
:func:`make_synthetic_smpl`; it is *not* SMPL) is posed
along random smooth trajectories (walking-like hip/knee swings, arm raises,
body yaw, drifting translation 3-4 m from the camera). The posed joints are
projected with the MMHPSD intrinsics scaled to the frame size and drawn as a
grey-scale stick figure; optional "event frames" mark pixels whose
brightness changes between sub-frames. Everything written is consistent:
``joints3d = SMPL(body_pose, beta) + trans`` and ``joints2d`` is the
projection of ``joints3d``.

Layout written under ``--out`` (default ``data/toy_mmhpsd``)::

    toy_smpl.npz                       synthetic body model
    mmhpsd_grayscale_img/<action>/imgs/fullpic%04d.jpg
    mmhpsd_events/<action>/poses/pose_%04d.npz
        joints3d (24, 3), joints2d (24, 3), trans (1, 3), body_pose (1, 72),
        beta (1, 10)
    mmhpsd_events/<action>/events_frame_04/events_%04d.npz   (--events)
    meta.json                          the generator arguments

``<action>`` is ``subject%02d_group%d_time1``. Usage::

    python tools/data/generate_toy_mmhpsd.py --out data/toy_mmhpsd

The output is a function of the arguments only.
"""
import argparse
import json
import os
import os.path as osp
import sys

import cv2
import numpy as np
import torch

INTRINSICS_1280 = (1679.3, 1679.3, 641., 641.)
BONE_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16,
                17, 18, 19, 20, 21)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate a toy dataset in the MMHPSD layout')
    parser.add_argument('--out', default='data/toy_mmhpsd',
                        help='output folder')
    parser.add_argument('--subjects', type=int, nargs='+',
                        default=[1, 3, 4, 5],
                        help='subject numbers (1, 2, 7 are test subjects)')
    parser.add_argument('--groups', type=int, default=4,
                        help='sequences (groups) per subject; each has its '
                        'own trajectory, shape and distance (the toy config '
                        'is measured on the default, 4)')
    parser.add_argument('--frames', type=int, default=32,
                        help='frames per sequence')
    parser.add_argument('--size', type=int, default=64,
                        help='frame width = height in pixels')
    parser.add_argument('--events', action='store_true',
                        help='also write 4-channel event frames')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    return parser.parse_args(argv)


def make_synthetic_smpl(verts_per_joint=2, num_betas=10, seed=0):
    """A tiny SMPL-format model for tests and toy data (not a body model).

    24 joints at roughly human T-pose positions (metres, y up), each with
    ``verts_per_joint`` vertices placed symmetrically around it, so that
    ``J_regressor @ v_template`` equals the joint positions exactly. Vertices
    are skinned 0.8 to their joint and 0.2 to its parent; the shape and pose
    blend shapes are small random directions (the first shape direction
    scales the body).

    Args:
        verts_per_joint (int): Even number of vertices per joint.
        num_betas (int): Number of shape directions.
        seed (int): Random seed.

    Returns:
        dict: the fields of an SMPL model file (``v_template``,
        ``shapedirs``, ``posedirs``, ``J_regressor``, ``kintree_table``,
        ``weights``, ``f``), ready for ``np.savez``.
    """
    if verts_per_joint < 2 or verts_per_joint % 2:
        raise ValueError('verts_per_joint must be an even number >= 2')
    rng = np.random.default_rng(seed)
    joints = np.array([
        [0.00, 0.00, 0.00], [0.06, -0.09, 0.00], [-0.06, -0.09, 0.00],
        [0.00, 0.11, -0.02], [0.10, -0.47, 0.00], [-0.10, -0.47, 0.00],
        [0.00, 0.25, 0.00], [0.09, -0.87, -0.04], [-0.09, -0.87, -0.04],
        [0.00, 0.31, 0.02], [0.11, -0.93, 0.08], [-0.11, -0.93, 0.08],
        [0.00, 0.52, -0.01], [0.08, 0.42, 0.00], [-0.08, 0.42, 0.00],
        [0.00, 0.60, 0.04], [0.18, 0.45, -0.01], [-0.18, 0.45, -0.01],
        [0.43, 0.43, -0.03], [-0.43, 0.43, -0.03], [0.68, 0.44, -0.03],
        [-0.68, 0.44, -0.03], [0.76, 0.43, -0.04], [-0.76, 0.43, -0.04]
    ])
    num_joints = len(joints)
    half = verts_per_joint // 2
    offsets = rng.normal(scale=0.03, size=(num_joints, half, 3))
    verts = np.concatenate([joints[:, None] + offsets,
                            joints[:, None] - offsets], axis=1)
    v_template = verts.reshape(-1, 3)
    num_verts = len(v_template)
    owner = np.repeat(np.arange(num_joints), verts_per_joint)
    j_reg = np.zeros((num_joints, num_verts))
    j_reg[owner, np.arange(num_verts)] = 1.0 / verts_per_joint
    weights = np.zeros((num_verts, num_joints))
    for v, j in enumerate(owner):
        parent = BONE_PARENTS[j]
        if parent < 0:
            weights[v, j] = 1.0
        else:
            weights[v, j], weights[v, parent] = 0.8, 0.2
    shapedirs = rng.normal(scale=0.01, size=(num_verts, 3, num_betas))
    shapedirs[:, :, 0] = 0.05 * v_template
    posedirs = rng.normal(scale=0.002, size=(num_verts, 3, 9 * 23))
    kintree = np.stack([np.array(BONE_PARENTS), np.arange(num_joints)])
    kintree[0, 0] = 4294967295  # the official files store uint32(-1)
    faces = np.stack([np.arange(0, num_verts - 2),
                      np.arange(1, num_verts - 1),
                      np.arange(2, num_verts)], axis=1)
    return dict(v_template=v_template, shapedirs=shapedirs,
                posedirs=posedirs, J_regressor=j_reg,
                kintree_table=kintree.astype(np.int64), weights=weights,
                f=faces)


def _rotvec(matrix):
    return cv2.Rodrigues(np.asarray(matrix, np.float64))[0][:, 0]


def _rot(axis, angle):
    vec = np.zeros(3)
    vec['xyz'.index(axis)] = angle
    return cv2.Rodrigues(vec)[0]


class Trajectory:
    """Smooth random SMPL pose / translation as a function of time."""

    def __init__(self, rng):
        self.w = rng.uniform(0.25, 0.45)  # rad / frame
        self.phase = rng.uniform(0, 2 * np.pi, size=8)
        self.amp = rng.uniform(0.6, 1.0, size=8)
        self.yaw0 = rng.uniform(-0.6, 0.6)
        self.beta = rng.normal(scale=0.5, size=10)
        self.trans0 = np.array([rng.uniform(-0.2, 0.2), 0.0,
                                rng.uniform(3.2, 3.8)])

    def pose(self, t):
        """``body_pose (72,)`` and ``trans (3,)`` at (fractional) frame t."""
        a, p, w = self.amp, self.phase, self.w
        pose = np.zeros((24, 3))
        root = _rot('y', self.yaw0 + 0.4 * a[0] * np.sin(0.3 * w * t + p[0]))
        pose[0] = _rotvec(root @ _rot('x', np.pi))
        swing = 0.5 * a[1] * np.sin(w * t + p[1])
        pose[1, 0], pose[2, 0] = swing, -swing  # hips
        pose[4, 0] = 0.4 * a[2] * (1 - np.cos(w * t + p[1]))  # knees
        pose[5, 0] = 0.4 * a[2] * (1 + np.cos(w * t + p[1]))
        pose[16, 2] = -0.4 - 0.5 * a[3] * np.sin(w * t + p[3])  # shoulders
        pose[17, 2] = 0.4 + 0.5 * a[4] * np.sin(w * t + p[4])
        pose[18, 1] = -0.6 * a[5] * (1 + np.sin(w * t + p[5]))  # elbows
        pose[19, 1] = 0.6 * a[6] * (1 + np.sin(w * t + p[6]))
        pose[3, 0] = 0.15 * a[7] * np.sin(w * t + p[7])  # spine
        trans = self.trans0 + np.array([
            0.25 * np.sin(0.2 * w * t + p[2]),
            0.03 * np.sin(w * t + p[4]),
            0.4 * np.sin(0.15 * w * t + p[6])
        ])
        return pose.reshape(-1), trans


def project(joints3d, intrinsics):
    fx, fy, cx, cy = intrinsics
    z = np.maximum(joints3d[:, 2], 1e-3)
    return np.stack([fx * joints3d[:, 0] / z + cx,
                     fy * joints3d[:, 1] / z + cy], axis=1)


def render(joints2d, size, rng):
    """Grey stick figure on a dark, slightly noisy background."""
    img = rng.normal(20, 4, size=(size, size)).clip(0, 255).astype(np.uint8)
    scale = 8  # sub-pixel precision of cv2 drawing
    pts = np.round(joints2d * scale).astype(np.int64)
    thick = max(1, size // 32)
    for j, parent in enumerate(BONE_PARENTS):
        if parent >= 0:
            cv2.line(img, tuple(int(v) for v in pts[parent]),
                     tuple(int(v) for v in pts[j]), 200, thick, cv2.LINE_AA,
                     shift=3)
    for j in (15, 20, 21, 10, 11):  # head, hands, feet
        cv2.circle(img, tuple(int(v) for v in pts[j]), 2 * scale, 240, -1,
                   cv2.LINE_AA, shift=3)
    return img


def generate(out, subjects=(1, 3, 4, 5), groups=1, frames=32, size=64,
             events=False, seed=0):
    """Write the dataset; returns the list of action folder names."""
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))
    from mmsvf.models.pose.smpl import SMPLLayer

    os.makedirs(out, exist_ok=True)
    smpl_path = osp.join(out, 'toy_smpl.npz')
    np.savez(smpl_path, **make_synthetic_smpl(verts_per_joint=2, seed=seed))
    smpl = SMPLLayer(smpl_path)
    intr = np.array(INTRINSICS_1280) * size / 1280.
    actions = []
    for subject in subjects:
        for group in range(1, groups + 1):
            action = f'subject{subject:02d}_group{group}_time1'
            actions.append(action)
            rng = np.random.default_rng([seed, subject, group])
            traj = Trajectory(rng)
            img_dir = osp.join(out, 'mmhpsd_grayscale_img', action, 'imgs')
            pose_dir = osp.join(out, 'mmhpsd_events', action, 'poses')
            ev_dir = osp.join(out, 'mmhpsd_events', action, 'events_frame_04')
            os.makedirs(img_dir, exist_ok=True)
            os.makedirs(pose_dir, exist_ok=True)
            if events:
                os.makedirs(ev_dir, exist_ok=True)
            beta = traj.beta.astype(np.float32)

            def posed(t):
                pose, trans = traj.pose(t)
                pose_t = torch.tensor(pose, dtype=torch.float32)[None]
                with torch.no_grad():
                    j = smpl(torch.tensor(beta)[None], pose=pose_t,
                             return_vertices=False)['joints'][0].numpy()
                return pose, trans, j + trans

            for f in range(frames):
                pose, trans, j3d = posed(f)
                j2d = project(j3d, intr)
                img = render(j2d, size, rng)
                cv2.imwrite(osp.join(img_dir, f'fullpic{f:04d}.jpg'), img,
                            [cv2.IMWRITE_JPEG_QUALITY, 95])
                np.savez(
                    osp.join(pose_dir, f'pose_{f:04d}.npz'),
                    joints3d=j3d.astype(np.float32),
                    joints2d=np.concatenate(
                        [j2d, np.ones((24, 1))], axis=1).astype(np.float32),
                    trans=trans[None].astype(np.float32),
                    body_pose=pose[None].astype(np.float32),
                    beta=beta[None])
                if events:
                    quiet = np.random.default_rng(0)
                    subs = [render(project(posed(f + k / 4)[2], intr), size,
                                   quiet).astype(np.int16) for k in range(5)]
                    ev = np.stack([
                        np.abs(subs[k + 1] - subs[k]) > 30 for k in range(4)
                    ], axis=-1)
                    np.savez(osp.join(ev_dir, f'events_{f:04d}.npz'),
                             events_frame=np.packbits(ev))
    with open(osp.join(out, 'meta.json'), 'w') as f:
        json.dump(dict(subjects=list(subjects), groups=groups, frames=frames,
                       size=size, events=events, seed=seed,
                       intrinsics_1280=INTRINSICS_1280), f, indent=2)
    return actions


def main(argv=None):
    args = parse_args(argv)
    actions = generate(args.out, args.subjects, args.groups, args.frames,
                       args.size, args.events, args.seed)
    print(f'wrote {len(actions)} sequences x {args.frames} frames '
          f'({args.size}x{args.size}) to {args.out}')


if __name__ == '__main__':
    main()
