"""``help()`` on the public components shows their arguments and what each means."""

from __future__ import annotations

import pydoc

from meshlink.mesh import MeshLink


def test_help_on_meshlink_lists_its_arguments() -> None:
    text = pydoc.render_doc(MeshLink, renderer=pydoc.TextDoc())
    assert "``args`` (MeshLinkArgs):" in text
    assert "link_ca: Required[LinkIssuer | CertificateAuthorityArgs]" in text
    assert "The client certificate's SAN, which the server admits." in text
    # one level down: the client and server argument dicts
    assert "namespaces: Required[Sequence[str]]" in text
    assert "The server mesh's trust domain(s)" in text
    # not Pulumi's inherited constructor text
    assert "Initializes a ComponentResource" not in (MeshLink.__init__.__doc__ or "")
