/* django_limpyd's admin-like pages: leave the empty inputs of the filter form
   out of its URL, add rows to the widgets of multi-value fields and move list
   items up and down (the action bar is the Django admin's actions.js). No
   dependency; every page works without it. */
'use strict';
document.addEventListener('DOMContentLoaded', function() {
    const filters = document.getElementById('limpyd-filter-form');
    if (filters) {
        filters.addEventListener('submit', function() {
            filters.querySelectorAll('input[type=text], textarea').forEach(function(input) {
                if (!input.value) {
                    input.disabled = true;
                }
            });
        });
    }
    document.querySelectorAll('.limpyd-rows').forEach(setUpRows);
});

/* The rows of a multi-value field: after a move or an addition, the positions
   and the indexes the "remove" checkboxes name follow the order of the rows. */
function renumberRows(widget) {
    widget.querySelectorAll('tbody > tr.limpyd-row').forEach(function(row, index) {
        const order = row.querySelector('input.limpyd-order');
        if (order) {
            order.value = index + 1;
        }
        const remove = row.querySelector('td.limpyd-remove input[type=checkbox]');
        if (remove) {
            remove.value = index;
        }
        row.querySelectorAll('input[id], textarea[id]').forEach(function(input) {
            input.id = input.id.replace(/_\d+_(\w+)$/, '_' + index + '_$1');
        });
        row.querySelectorAll('a.related-lookup[id]').forEach(function(link) {
            link.id = link.id.replace(/_\d+_(\w+)$/, '_' + index + '_$1');
        });
    });
}

function setUpRows(widget) {
    const body = widget.querySelector('tbody');
    const template = widget.querySelector('template.limpyd-row-template');
    const add = widget.querySelector('.limpyd-add-row');
    widget.querySelectorAll('.limpyd-up, .limpyd-down').forEach(function(button) {
        button.hidden = false;
    });
    if (add && template) {
        add.hidden = false;
        add.addEventListener('click', function() {
            body.appendChild(template.content.cloneNode(true));
            renumberRows(widget);
            const rows = body.querySelectorAll('tr.limpyd-row');
            const input = rows[rows.length - 1].querySelector('input[type=text], textarea');
            if (input) {
                input.focus();
            }
        });
    }
    body.addEventListener('click', function(event) {
        const button = event.target.closest('.limpyd-up, .limpyd-down');
        if (!button) {
            return;
        }
        const row = button.closest('tr');
        if (button.classList.contains('limpyd-up') && row.previousElementSibling) {
            body.insertBefore(row, row.previousElementSibling);
        } else if (button.classList.contains('limpyd-down') && row.nextElementSibling) {
            body.insertBefore(row.nextElementSibling, row);
        }
        renumberRows(widget);
        button.focus();
    });
}
