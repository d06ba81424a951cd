// The upload area of a folder listing, on Uppy's prebuilt bundle (served by
// the proxy next to this file; it sets globalThis.Uppy). Everything the page
// needs comes from the data attributes of <section id="upload">: the routes'
// path, the operator's limits, and whether this listing is the folder the
// files go to. The routes answer with URLs to send the bytes to (S3 itself,
// or the proxy when the bucket cannot be reached from browsers): the page
// does not know or care which.
(() => {
  'use strict';
  const section = document.getElementById('upload');
  if (!section) return;
  const bundle = globalThis.Uppy;
  if (!bundle) {
    section.querySelector('.destination')?.insertAdjacentText('afterend', 'The upload tool could not be loaded.');
    return;
  }
  const { Uppy, Dashboard, AwsS3, GoldenRetriever } = bundle;
  const data = section.dataset;
  const multipartFrom = Number(data.multipartFrom);

  const uppy = new Uppy({
    // Golden Retriever keeps unfinished uploads under this id in the
    // browser: one per user, so that another account on the same browser is
    // not offered uploads that belong to someone else.
    id: data.store || 's3proxy-upload',
    autoProceed: true,
    restrictions: {
      // Refused here before a byte is sent, as the routes and S3 would refuse them.
      maxFileSize: Number(data.maxBytes),
      allowedFileTypes: data.allowedTypes ? data.allowedTypes.split(',') : null,
    },
  });
  uppy.use(Dashboard, {
    inline: true,
    target: '#uppy-dashboard',
    width: '100%',
    height: 340,
    note: data.note || null,
    proudlyDisplayPoweredByUppy: false,
    // the link would be S3's own URL, which a browser cannot open; the listing has the proxy's
    showLinkToFileUploadResult: false,
    theme: 'light',
  });
  uppy.use(AwsS3, {
    // the proxy's own origin: the routes take the session cookie, and POST
    // and DELETE pass their same-origin check
    companionEndpoint: new URL(data.endpoint, location.href).href.replace(/\/$/, ''),
    shouldUseMultipart: (file) => (file.size ?? 0) > multipartFrom,
  });
  // Unfinished uploads are offered again after a reload or a browser
  // restart, and resume from the parts S3 already has (the list-parts route).
  uppy.use(GoldenRetriever);

  // For tests and the curious: the page's Uppy, nothing more.
  globalThis.s3proxyUppy = uppy;

  if (data.refresh === 'listing') uppy.on('upload-success', () => refreshListing());

  let refreshing = false;
  let again = false;
  // The server renders the listing (sorted as the page's own query asks),
  // so the page asks for itself again and swaps in the new rows; new names
  // are marked. Finishing files while a refresh runs asks for one more.
  async function refreshListing() {
    if (refreshing) {
      again = true;
      return;
    }
    refreshing = true;
    try {
      do {
        again = false;
        const response = await fetch(location.href, { headers: { accept: 'text/html' }, cache: 'no-store' });
        if (!response.ok) return;
        const fresh = new DOMParser().parseFromString(await response.text(), 'text/html').getElementById('listing');
        const current = document.getElementById('listing');
        if (!fresh || !current) return;
        const before = new Set([...current.querySelectorAll('tbody td.name')].map((cell) => cell.textContent));
        for (const cell of fresh.querySelectorAll('tbody td.name')) {
          if (!before.has(cell.textContent)) cell.parentElement.classList.add('fresh');
        }
        current.replaceWith(document.adoptNode(fresh));
      } while (again);
    } catch {
      // the next finished upload tries again; a manual reload always works
    } finally {
      refreshing = false;
    }
  }
})();
